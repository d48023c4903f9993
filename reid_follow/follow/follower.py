"""The following core shared by the follower node and the offline tools (follow-video, eval-follow).

Per frame the multi-person tracker associates detections (motion + selective appearance); the
target is one of its tracks, and every identity decision uses one calibrated score, P(target)
(see follow/identity.py). States (``State``; every threshold in FollowConfig):

* ``idle``: nobody enrolled; people are still tracked so that enrollment can pick one.
* ``enrolling``: a person was picked; the first trustworthy samples fill the gallery.
* ``tracking``: the target's track is matched this frame (or coasted for at most
  ``coast_frames`` frames and ``coast_max_s`` seconds, reported as ``predicted``). The gallery and the distractor bank learn
  only from unambiguous frames; while the target's box overlaps another person's (a crossing;
  not someone clearly behind the target, see ``crossing_behind_height``) nothing is learnt, and
  when they separate the follower verifies which of them is the target before it reports again.
  Nor is anything learnt while the box changes size faster than a walking person's
  (``update_height_change``: a box sliding onto a neighbour). A track that stops looking like
  the target is dropped.
* ``occluded``: the target is not seen (fewer than ``lost_after_frames`` frames).
* ``lost``: longer. No box is reported in either state, however long it lasts. A track becomes
  the target again only after confirmations: frames with a high identity score, a margin over
  every other person, and a position motion allows (a gate that grows with the time since the
  target was last seen, moved with the camera-motion estimate); with ``reacquire_lapses`` > 0 a
  frame that merely fails to agree delays a confirmation without restarting it. Another track
  than the own needs a gallery of ``reacquire_min_samples``, except a crossing partner (someone
  the target was crossing when it was lost: the tracker may have swapped the two).

While tracking, another track that is clearly more likely the target than the target's own
(mediocre) track is a rival: the own track's frames are rejected while the rival is confirmed,
then it becomes the target's track (the own track drifted onto someone else without a crossing).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from reid_follow.detect import nms
from reid_follow.follow.config import FollowConfig
from reid_follow.follow.gallery import TargetGallery, load_gallery, save_gallery
from reid_follow.follow.target import Candidate, LastSeen, TargetModel
from reid_follow.follow.types import FollowOutput, Observation, State
from reid_follow.pose import box_depths
from reid_follow.tracking.geometry import coverage_matrix, inside_frame, iou_matrix
from reid_follow.tracking.tracker import TENTATIVE, MultiTracker, Track


def select_person(boxes: np.ndarray, rule: str, width: int, height: int,
                  depth_m: np.ndarray | None = None) -> int:
    """Index of the person an enrollment rule picks (see FollowConfig.enroll_rule)."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    if rule == "nearest" and depth_m is not None and np.isfinite(depth_m).any():
        return int(np.nanargmin(depth_m))
    if rule in ("largest", "nearest"):
        return int(np.argmax(area))
    centre = np.array([width / 2.0, height / 2.0])
    mid = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)
    dist = np.linalg.norm(mid - centre, axis=1)
    return int(np.argmax(area / (1.0 + dist / max(width, 1))))


def preference(p_best: float, p_other: float) -> float:
    """How much more likely the best-scoring person is the target than the next one, as the
    probability that it is the best one given that one of the two is: odds / (odds + odds').
    On odds, unlike a difference of probabilities, 0.999 against 0.85 is decisive while 0.8
    against 0.6 is not."""
    a, b = (min(max(p, 1e-9), 1 - 1e-9) for p in (p_best, p_other))
    odds_a, odds_b = a / (1 - a), b / (1 - b)
    return odds_a / (odds_a + odds_b)


def _behind(other: np.ndarray, box: np.ndarray, height_ratio: float) -> bool:
    """``other`` (xyxy) is clearly behind the person at ``box``: at most ``height_ratio`` of its height,
    with feet higher in the image (see FollowConfig.crossing_behind_height)."""
    return other[3] - other[1] <= height_ratio * (box[3] - box[1]) and other[3] < box[3]


def _last_seen(box: np.ndarray, stamp: float) -> LastSeen:
    return LastSeen(np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]), float(box[3] - box[1]),
                    float(box[2] - box[0]), stamp)


class TargetFollower:
    """Keeps the enrolled person frame to frame; reports idle / enrolling / tracking / occluded / lost.

    With ``embedder=None`` (or frames without images) it follows on motion alone and cannot
    re-acquire a person whose track died: the motion-only baseline of ``eval-follow``.
    """

    def __init__(self, cfg: FollowConfig, embedder: object | None = None) -> None:
        cfg.validate()
        self.cfg = cfg
        self.embedder = embedder
        self.tracker = MultiTracker(cfg.tracking)
        self.target = TargetModel(cfg)
        self.state = State.IDLE
        # Enrollment is a command about what the user saw: the latest frame (filtered detections).
        self._latest: Observation | None = None
        self._last_stamp: float | None = None
        self._out = FollowOutput(State.IDLE)
        if cfg.gallery_file and Path(cfg.gallery_file).is_file():
            self.load_gallery(cfg.gallery_file)

    @property
    def target_id(self) -> int | None:
        """The target's track id (None while idle or lost)."""
        return self.target.track_id

    @property
    def gallery(self) -> TargetGallery:
        """The target's gallery (saved and loaded with save_gallery / load_gallery)."""
        return self.target.gallery

    # ---- per frame ---------------------------------------------------------------------------
    def update(self, obs: Observation) -> FollowOutput:
        """Process one frame; stamps must increase (a duplicate or older stamp raises ValueError)."""
        if self._last_stamp is not None and obs.stamp <= self._last_stamp:
            raise ValueError(f"observation stamp {obs.stamp} is not after the previous one "
                             f"({self._last_stamp}): duplicate or out-of-order frame")
        self._last_stamp = obs.stamp
        keep = obs.scores >= self.cfg.min_detection_score
        if obs.frame is not None:
            keep &= inside_frame(obs.boxes, obs.frame.shape[1], obs.frame.shape[0])
        boxes, scores = obs.boxes[keep], obs.scores[keep]
        if self.cfg.nms_iou < 1.0:
            boxes, scores = nms(boxes, scores, self.cfg.nms_iou)
        self._latest = Observation(obs.frame, boxes, scores, obs.stamp, obs.depth)
        embed, counter = self._embed_fn(obs.frame, boxes)
        model = self.target
        target = self.tracker.get(model.track_id)
        # Every visible person is a candidate while searching, and every person involved in a
        # crossing must be scored when it ends.
        known = len(model.gallery) > 0
        searching = known and self.state in (State.OCCLUDED, State.LOST)
        embed_all = searching or (known and (bool(model.crossing) or model.lockon))
        tracks = self.tracker.update(boxes, obs.frame, embed, focus=target.box if target is not None else None,
                                     embed_all=embed_all, scores=scores,
                                     start_weak=searching and self.cfg.search_weak_detections)
        if obs.frame is not None and self.cfg.tracking.gmc and self.tracker.last_warp is not None:
            for seen in (model.last_seen, model.candidate.seen if model.candidate is not None else None):
                if seen is not None:
                    seen.warp(self.tracker.last_warp)
        if embed is not None and known:
            self._embed_unembedded(tracks, embed, everyone=embed_all)
        track_scores = self._score_tracks(tracks)
        out = self._step(boxes, obs.stamp, track_scores)
        out.tracks = [(t.track_id, boxes[t.detection].copy()) for t in tracks if t.detection >= 0]
        out.embedded = counter[0]
        out.scores = track_scores
        self._out = out
        return out

    def restart_clock(self) -> None:
        """Accept stamps from zero again (a bag that loops, a restarted camera driver).

        Tracks, gallery and target are kept: the tracker's motion gates and the appearance
        model decide whether the person is still where the last frame had them. The time of the
        target's last sighting restarts too (the motion gate must not shrink to nothing).
        """
        self._last_stamp = None
        if self.target.last_seen is not None:
            self.target.last_seen.stamp = 0.0

    def current_output(self) -> FollowOutput:
        """The output for the latest frame as it stands now (e.g. right after an enrollment)."""
        return self._out

    def _embed_fn(self, frame: np.ndarray | None, boxes: np.ndarray):
        counter = [0]
        if self.embedder is None or frame is None:
            return None, counter

        def embed(idx: np.ndarray) -> np.ndarray:
            counter[0] += len(idx)
            return self.embedder.embed(frame, boxes[idx])
        return embed, counter

    def _embed_unembedded(self, tracks: list[Track], embed, everyone: bool) -> None:
        """Embed the matched crops the tracker did not (its weak, second-stage detections) where
        identity is decided: the target's own, and ``everyone``'s while it is searched for or
        verified (the frame's ``embed_all``). Only ``fresh`` is set: the tracker's own appearance
        memory stays its business."""
        model = self.target
        todo = [t for t in tracks if t.detection >= 0 and t.fresh is None
                and (everyone or t.track_id == model.track_id)]
        if todo:
            for t, e in zip(todo, embed(np.array([t.detection for t in todo]))):
                t.fresh = np.asarray(e, dtype=np.float32)

    def _score_tracks(self, tracks: list[Track]) -> dict[int, float]:
        """The identity score of every track matched and embedded this frame (one batched call)."""
        scored = [t for t in tracks if t.detection >= 0 and t.fresh is not None]
        if not scored:
            return {}
        p = self.target.scores(np.stack([t.fresh for t in scored]))
        return {} if p is None else {t.track_id: float(s) for t, s in zip(scored, p)}

    # ---- state machine -------------------------------------------------------------------------
    def _step(self, boxes: np.ndarray, stamp: float, scores: dict[int, float]) -> FollowOutput:
        if self.state == State.IDLE:
            return FollowOutput(State.IDLE)
        model, cfg = self.target, self.cfg
        target = self.tracker.get(model.track_id)
        if target is None or target.detection < 0:
            model.unbroken = False
        if self.state in (State.ENROLLING, State.TRACKING):
            if target is not None and target.detection >= 0:
                return self._follow(target, boxes, stamp, scores)
            model.missed += 1
            if model.lockon:
                found = self._lockon_candidate(boxes, stamp)
                if found is not None:
                    model.track_id = found.track_id
                    self.tracker.confirm(found.track_id)
                    return self._follow(found, boxes, stamp, scores)
                if model.missed <= cfg.enroll_lockon_frames:
                    if target is None or not self._may_coast(stamp):
                        return FollowOutput(self.state)
                    return FollowOutput(self.state, target.box.copy(), model.score, target.track_id, predicted=True)
            elif target is not None and self._may_coast(stamp):
                return FollowOutput(self.state, target.box.copy(), model.score, target.track_id, predicted=True)
            self.state = State.OCCLUDED
            model.lockon = False
            model.drop_crossing()
        else:
            model.missed += 1
        if model.missed >= cfg.lost_after_frames or target is None:
            self.state = State.LOST
        return self._search(target, boxes, stamp, scores)

    def _may_coast(self, stamp: float) -> bool:
        """The target's predicted box may still be reported (see FollowConfig.coast_frames)."""
        model, cfg = self.target, self.cfg
        recent = model.last_seen is None or stamp - model.last_seen.stamp <= cfg.coast_max_s
        return model.missed <= cfg.coast_frames and recent

    def _follow(self, target: Track, boxes: np.ndarray, stamp: float, scores: dict[int, float]) -> FollowOutput:
        """The target's own track is matched: check it is still the person, report it, learn."""
        model, cfg = self.target, self.cfg
        continuous = model.missed == 0
        if not self._looks_like_target(target):
            if not model.lockon:
                return self._reject(None)
            # A box enrollment's track took someone else's detection: the target's is elsewhere.
            target = self._lockon_candidate(boxes, stamp)
            if target is None:             # that track is someone else's now: wait for a detection
                model.track_id = None
                model.missed += 1
                return FollowOutput(self.state)
            model.track_id = target.track_id
            self.tracker.confirm(target.track_id)
        model.lockon = False
        box = boxes[target.detection]
        overlap = iou_matrix(box, boxes)[0]
        partners = {t.track_id for t in self.tracker.tracks if t is not target and t.detection >= 0
                    and overlap[t.detection] >= cfg.crossing_iou
                    and not _behind(boxes[t.detection], box, cfg.crossing_behind_height)}
        if partners:
            model.crossing |= partners
        elif model.crossing:
            # They separated: the tracker may have swapped them. Report only who is verified.
            verified = self._verify(target, scores)
            if verified is None:
                return self._reject(scores.get(target.track_id))
            model.crossing.clear()
            if verified is not target:
                target = verified
                model.track_id = target.track_id
                self.tracker.confirm(target.track_id)
                box = boxes[target.detection]
                overlap = iou_matrix(box, boxes)[0]
        score = scores.get(target.track_id)
        rival = None if score is None or score >= cfg.reacquire_threshold else \
            self._rival(target, score, boxes, stamp, scores)
        if rival is not None and self._confirmed(rival, False, stamp):
            return self._resume(rival, boxes, stamp, scores)
        if rival is None:
            self._lapse(scores)
        if score is not None and (score < cfg.reject_threshold or rival is not None):
            return self._reject(score)
        model.reject_streak = 0
        model.missed = 0
        if score is not None:
            model.score = score
        model.last_seen = _last_seen(box, stamp)
        model.unbroken = True
        steady = model.steady_height(float(box[3] - box[1]), stamp, continuous)
        self._learn(target, boxes, overlap, score, ambiguous=bool(partners) or not steady,
                    continuous=continuous)
        return FollowOutput(self.state, box.copy(), model.score, target.track_id)

    def _rival(self, own: Track, score: float, boxes: np.ndarray, stamp: float,
               scores: dict[int, float]) -> Track | None:
        """Another track, where motion allows, clearly more likely the target than the target's own
        track (at least reacquire_threshold, preferred by reacquire_margin; asked only when the own
        track scores below reacquire_threshold, as a candidate would need), if any: the own track
        may have drifted onto someone else without a crossing (a loose box, a missed frame) while
        the person got a new track. Its frames are rejected (no box) while the rival is confirmed
        like any candidate (reacquire_confirmations, counted from the first such frame, also while
        the own track is rejected for its own low score); it then becomes the target's track.
        Like any other track's adoption, only where _may_adopt allows it."""
        cfg = self.cfg
        others = [t for t in self.tracker.tracks if t is not own and t.detection >= 0
                  and scores.get(t.track_id, 0.0) >= cfg.reacquire_threshold and self._may_adopt(t.track_id)]
        others = [t for t in self._plausible(others, boxes, stamp)
                  if preference(scores[t.track_id], score) >= cfg.reacquire_margin]
        return max(others, key=lambda t: scores[t.track_id], default=None)

    def _may_adopt(self, track_id: int) -> bool:
        """Another track than the own may become the target's: the gallery holds reacquire_min_samples,
        or the track is a crossing partner (TargetModel.partner: the tracker may have swapped the two,
        and people walking side by side overlap in nearly every frame, so the gallery stays small)."""
        return len(self.target.gallery) >= self.cfg.reacquire_min_samples or self.target.partner(track_id)

    def _looks_like_target(self, track: Track) -> bool:
        """Before the identity score is calibrated: a crop nearer a distractor than the target's
        samples is not the target, and neither is a match after a gap (the first one after a box
        enrollment, or after missed frames) that overlaps the predicted box by less than
        enroll_min_iou. With a calibrated score the score decides; without an embedder, motion."""
        model = self.target
        if model.identity.ready or self.embedder is None:
            return True
        if (model.lockon or model.missed > 0) and track.match_iou < self.cfg.enroll_min_iou:
            return False
        return track.fresh is None or model.nearer_target(track.fresh)

    def _lockon_candidate(self, boxes: np.ndarray, stamp: float) -> Track | None:
        """After a box enrollment: the matched track whose detection overlaps where the box is
        predicted now (IoU >= enroll_min_iou, the same test as at enrollment) and whose crop is
        nearer the enrollment crop than every distractor; the most similar one, if any."""
        model = self.target
        own = self.tracker.get(model.track_id)
        where = own.box if own is not None else model.last_seen.box()
        return self._most_like_target_at(where, boxes, exclude=model.track_id)

    def _most_like_target_at(self, where: np.ndarray | None, boxes: np.ndarray,
                             exclude: int | None = None) -> Track | None:
        """Among the matched, embedded tracks (but ``exclude``) whose detection overlaps ``where``
        with IoU >= enroll_min_iou (anywhere when None) and whose crop passes nearer_target, the
        one most similar to the gallery; None if there is none. The uncalibrated evidence of both
        the box lock-on and the search before the identity score is calibrated."""
        model = self.target
        tracks = [t for t in self.tracker.tracks if t.detection >= 0 and t.fresh is not None and t.track_id != exclude]
        if where is not None and tracks:
            overlap = iou_matrix(where, boxes[[t.detection for t in tracks]])[0]
            tracks = [t for t, o in zip(tracks, overlap) if o >= self.cfg.enroll_min_iou]
        near = [t for t in tracks if model.nearer_target(t.fresh)]
        return max(near, key=lambda t: float(model.gallery.similarity(t.fresh)[0]), default=None)

    def _verify(self, target: Track, scores: dict[int, float]) -> Track | None:
        """After a crossing: the track among those involved that is the target, None if unclear."""
        if not self.target.identity.ready:
            return target                    # nothing to tell them apart with yet: motion decides
        involved = [target] + [t for t in self.tracker.tracks
                               if t.track_id in self.target.crossing and t.detection >= 0]
        scored = sorted(((scores[t.track_id], t) for t in involved if t.track_id in scores),
                        key=lambda st: -st[0])
        if not scored:
            return None
        best_score, best = scored[0]
        runner_up = scored[1][0] if len(scored) > 1 else 0.0
        if best_score >= self.cfg.resume_threshold and preference(best_score, runner_up) >= self.cfg.reacquire_margin:
            return best
        return None

    def _reject(self, score: float | None) -> FollowOutput:
        """A frame where the target's own track is not (clearly) the target: report nothing."""
        model = self.target
        model.reject_streak += 1
        model.missed += 1
        if score is not None:
            model.score = score
        if self._swapped():
            self._lose_target()
        else:
            self.state = State.OCCLUDED
        return FollowOutput(self.state, score=model.score)

    def _swapped(self) -> bool:
        """The own track is presumed to follow someone else now: ``reject_frames`` rejected frames in
        a row, unless the tracker matched it in every frame since the target was last reported and
        it overlapped nobody (a crossing) meanwhile. Such a track cannot have changed person (a
        drift onto someone who appears beside it is a rival's case); its look changed (a turn, a
        close-up, the light), so it keeps the own track's resume rule."""
        model = self.target
        return model.reject_streak >= self.cfg.reject_frames and not (model.unbroken and not model.crossing)

    def _search(self, target: Track | None, boxes: np.ndarray, stamp: float,
                scores: dict[int, float]) -> FollowOutput:
        """Target not reported: look for it among the people visible now; report nothing until found."""
        model, cfg = self.target, self.cfg
        if target is not None and target.detection >= 0:
            own = scores.get(target.track_id)
            if own is None and not model.identity.ready and self._looks_like_target(target):
                # Uncalibrated: the tracker's association decides, confirmed like any resume
                # (without an embedder there is nothing to confirm with: motion alone).
                if self.embedder is None or self._confirmed(target, True, stamp):
                    return self._resume(target, boxes, stamp, scores)
                return FollowOutput(self.state)
            if own is not None and own < cfg.reject_threshold:
                model.reject_streak += 1
                if self._swapped():
                    self._lose_target()          # its track now follows someone else: no privilege left
                    target = None
            elif own is not None:
                model.reject_streak = 0          # rejected frames count only in a row (reject_frames)
        if not model.identity.ready:
            return self._search_uncalibrated(target, boxes, stamp, scores)
        visible = [t for t in self.tracker.tracks if t.detection >= 0 and t.track_id in scores]
        plausible = self._plausible(visible, boxes, stamp)
        if not plausible:
            self._lapse(scores)
            return FollowOutput(self.state)
        best = max(plausible, key=lambda t: scores[t.track_id])
        best_score = scores[best.track_id]
        runner_up = max((scores[t.track_id] for t in visible if t is not best), default=0.0)
        own_track = best is target
        threshold = cfg.resume_threshold if own_track else cfg.reacquire_threshold
        if best_score < threshold or preference(best_score, runner_up) < cfg.reacquire_margin \
                or (not own_track and not self._may_adopt(best.track_id)):
            self._lapse(scores)
            return FollowOutput(self.state)
        if not self._confirmed(best, own_track, stamp):
            return FollowOutput(self.state)
        return self._resume(best, boxes, stamp, scores)

    def _search_uncalibrated(self, target: Track | None, boxes: np.ndarray, stamp: float,
                             scores: dict[int, float]) -> FollowOutput:
        """The search while the identity score cannot be calibrated yet (a box enrollment whose
        person the detector has not found again: one gallery sample). Appearance from one sample
        against a few distractors is weak evidence (a stranger passes it on MOT16-05), so a track
        qualifies only where the target was last seen (IoU >= enroll_min_iou with that box, moved
        with the camera) and with a crop nearer the target's samples than anyone else's; the most
        similar one is adopted after the same confirmations as a calibrated candidate."""
        model = self.target
        best = self._candidate_still_like_target()
        if best is None:
            best = self._most_like_target_at(model.last_seen.box() if model.last_seen is not None else None, boxes)
        if best is None:
            self._lapse(scores)
            return FollowOutput(self.state)
        if not self._confirmed(best, best is target, stamp):
            return FollowOutput(self.state)
        return self._resume(best, boxes, stamp, scores)

    def _candidate_still_like_target(self) -> Track | None:
        """The candidate being confirmed before calibration, when the tracker matched its track again
        this frame and its crop is still nearer the target's samples than anyone else's: its first
        frame was where the target was last seen, and the tracker's association carries it from
        there. Without this a target walking on (at a low frame rate, a quarter of its width per
        frame) leaves the last-seen box before its confirmations are complete and is never taken
        back (PathTrack person 17 at 1/2 rate)."""
        candidate = self.target.candidate
        track = self.tracker.get(candidate.track_id) if candidate is not None else None
        if track is None or track.detection < 0 or track.fresh is None \
                or not self.target.nearer_target(track.fresh):
            return None
        return track

    def _plausible(self, tracks: list[Track], boxes: np.ndarray, stamp: float) -> list[Track]:
        """The tracks whose box a person could have reached since the target was last seen."""
        last = self.target.last_seen
        if last is None or not tracks:
            return tracks
        gate = last.plausible(boxes[[t.detection for t in tracks]], stamp, self.cfg.max_speed)
        return [t for t, ok in zip(tracks, gate) if ok]

    def _confirmed(self, best: Track, own_track: bool, stamp: float) -> bool:
        """Count one more agreeing frame for ``best``; True once it has the confirmations it needs."""
        model, cfg = self.target, self.cfg
        candidate = model.candidate
        seen = _last_seen(best.box, stamp)
        if candidate is not None and (candidate.track_id == best.track_id or self._returns(candidate, best, stamp)):
            candidate.track_id = best.track_id
            candidate.seen = seen
            candidate.streak += 1
            candidate.lapses = candidate.unseen = 0
        else:
            model.candidate = Candidate(best.track_id, seen)
        return model.candidate.streak >= (cfg.resume_confirmations if own_track else cfg.reacquire_confirmations)

    def _returns(self, candidate: Candidate, track: Track, stamp: float) -> bool:
        """``track`` is the candidate come back after frames without a detection: the candidate's own
        track is not matched now (a tentative track dies at its first miss) and ``track`` is where
        motion allows since the candidate last agreed (the gate of every switch, max_speed)."""
        return candidate.unseen > 0 and not self._detected(candidate.track_id) \
            and bool(candidate.seen.plausible(track.box[None], stamp, self.cfg.max_speed)[0])

    def _detected(self, track_id: int) -> bool:
        """The track exists and has a detection this frame."""
        track = self.tracker.get(track_id)
        return track is not None and track.detection >= 0

    def _lapse(self, scores: dict[int, float]) -> None:
        """A frame where no track qualifies: the candidate survives it while it was not detected for
        at most ``reacquire_unseen_frames`` frames, or while it has lapsed fewer than
        ``reacquire_lapses`` frames in a row and is not rejected (scored this frame: at least
        ``reject_threshold``); otherwise the confirmation starts again."""
        model, cfg = self.target, self.cfg
        candidate = model.candidate
        if candidate is None:
            return
        if not self._detected(candidate.track_id) and candidate.unseen < cfg.reacquire_unseen_frames:
            candidate.unseen += 1
            return
        score = scores.get(candidate.track_id)
        if candidate.lapses < cfg.reacquire_lapses and (score is None or score >= cfg.reject_threshold):
            candidate.lapses += 1
        else:
            model.candidate = None

    def _resume(self, track: Track, boxes: np.ndarray, stamp: float, scores: dict[int, float]) -> FollowOutput:
        model = self.target
        model.track_id = track.track_id
        self.tracker.confirm(track.track_id)
        self.state = State.TRACKING if model.enrolled_enough or self.embedder is None else State.ENROLLING
        model.candidate = None
        model.reject_streak = 0
        model.crossing.clear()
        model.partners.clear()
        return self._follow(track, boxes, stamp, scores)

    def _lose_target(self) -> None:
        model = self.target
        if model.candidate is not None and model.candidate.track_id == model.track_id:
            model.candidate = None          # a confirmation of another track (a rival) goes on
        model.track_id = None
        self.state = State.LOST
        model.missed = max(model.missed, self.cfg.lost_after_frames)
        model.reject_streak = 0
        model.drop_crossing()

    # ---- appearance ----------------------------------------------------------------------------
    def _learn(self, target: Track, boxes: np.ndarray, overlap: np.ndarray, score: float | None,
               ambiguous: bool, continuous: bool) -> None:
        """Learn from an unambiguous frame only: the target's crop, and the people around as distractors
        (``overlap``: IoU of the target's box with every detection; ``ambiguous``: it overlaps someone
        (a crossing) or its size jumped (TargetModel.steady_height), so nothing is learnt;
        ``continuous``: matched in the previous frame too)."""
        model, cfg = self.target, self.cfg
        if target.fresh is not None and not ambiguous:
            box = boxes[target.detection]
            others = np.delete(boxes, target.detection, axis=0)
            in_front = others[others[:, 3] > box[3]]         # nearer people (lower feet) hide the target
            hidden = float(coverage_matrix(box, in_front).max()) if len(in_front) else 0.0
            if score is None:
                # The score is not calibrated yet: trust a crop matched without a gap and nearer the
                # target's samples than any other person's (scale-free, so it holds for any embedder).
                confident = continuous and model.nearer_target(target.fresh) \
                    and target.match_iou >= cfg.enroll_min_iou
            else:
                confident = score >= cfg.update_threshold
            if confident and target.status != TENTATIVE and hidden <= cfg.update_max_overlap:
                model.add_target(target.fresh)
            if confident:          # the target is where we think: everyone else embedded is someone else
                negatives = [t.fresh for t in self.tracker.tracks
                             if t is not target and t.fresh is not None and t.detection >= 0
                             and overlap[t.detection] < cfg.crossing_iou]
                if negatives:
                    model.add_distractors(np.stack(negatives))
        if self.state == State.ENROLLING and model.enrolled_enough:
            self.state = State.TRACKING
            model.refit()
        elif model.tick() and cfg.gallery_file and self.state == State.TRACKING:
            self.save_gallery(cfg.gallery_file)

    # ---- control -------------------------------------------------------------------------------
    def enroll(self, rule: str | None = None, roi: np.ndarray | None = None) -> tuple[bool, str]:
        """Enroll a person of the latest frame by ``rule``, or the one at ``roi`` (see enroll_box)."""
        if roi is not None:
            return self.enroll_box(roi)
        obs = self._latest
        if obs is None or len(obs.boxes) == 0:
            return False, "nobody in view: no person detections in the latest frame"
        rule = rule or self.cfg.enroll_rule
        if obs.frame is not None:
            h, w = obs.frame.shape[:2]
        else:
            w, h = int(obs.boxes[:, 2].max()), int(obs.boxes[:, 3].max())
        idx = select_person(obs.boxes, rule, w, h, box_depths(obs.boxes, obs.depth))
        return self._enroll(obs.boxes[idx], idx)

    def enroll_box(self, box: np.ndarray) -> tuple[bool, str]:
        """Enroll the person at ``box`` (xyxy) in the latest frame (/enroll_roi, follow-video --enroll).

        The detection overlapping it best with IoU >= ``enroll_min_iou`` is taken; when there is
        none (a missed detection, a loose box) the target starts from the box itself and locks onto
        the person's detection within ``enroll_lockon_frames``. Fails only for a box that is not
        finite, has no area, or lies outside the image.
        """
        box = np.asarray(box, dtype=np.float64).reshape(4)
        obs = self._latest
        if obs is None:
            return False, "no frame received yet: nothing to enroll from"
        if not np.isfinite(box).all() or box[2] - box[0] < 2 or box[3] - box[1] < 2:
            return False, f"degenerate box {box.round(1).tolist()}: needs finite corners and width, height >= 2 px"
        if obs.frame is not None and not inside_frame(box[None], obs.frame.shape[1], obs.frame.shape[0])[0]:
            h, w = obs.frame.shape[:2]
            return False, f"box {box.round(1).tolist()} is outside the image ({w}x{h})"
        if len(obs.boxes):
            ious = iou_matrix(box, obs.boxes)[0]
            idx = int(np.argmax(ious))
            if ious[idx] >= self.cfg.enroll_min_iou:
                return self._enroll(obs.boxes[idx], idx)
        return self._enroll(box, None)

    def _enroll(self, box: np.ndarray, idx: int | None) -> tuple[bool, str]:
        """Make the person at ``box`` (detection ``idx`` of the latest frame, or None) the target."""
        obs = self._latest
        others = obs.boxes if idx is None else np.delete(obs.boxes, idx, axis=0)
        emb = None
        if self.embedder is not None and obs.frame is not None:
            emb = self.embedder.embed(obs.frame, np.vstack([box[None], others]))
        track = next((t for t in self.tracker.tracks if idx is not None and t.detection == idx), None)
        if track is None:   # no detection there, or one without a track (a weak one): a track from the box
            track = self.tracker.start_track(box, None if emb is None else emb[0])
        model = self.target
        model.reset()
        model.track_id = track.track_id
        self.tracker.confirm(track.track_id)
        model.score = 1.0
        model.lockon = track.detection < 0
        model.last_seen = _last_seen(box, obs.stamp)
        self.state = State.ENROLLING if self.embedder is not None else State.TRACKING
        if emb is not None:
            model.add_target(emb[0])
            # Only people clear of the box are someone else: a loose box may miss the target's own detection.
            apart = iou_matrix(others, box)[:, 0] < self.cfg.crossing_iou if len(others) else np.zeros(0, bool)
            model.add_distractors(emb[1:][apart])
            model.refit()
            if model.enrolled_enough:
                self.state = State.TRACKING
        prev = self._out
        self._out = FollowOutput(self.state, box.copy(), 1.0, track.track_id, prev.tracks, prev.embedded,
                                 predicted=model.lockon, scores=prev.scores)
        x1, y1, x2, y2 = box
        how = " (no detection there: started from the box)" if idx is None else ""
        return True, f"enrolled person at box x={x1:.0f} y={y1:.0f} w={x2 - x1:.0f} h={y2 - y1:.0f}{how}"

    def clear(self) -> tuple[bool, str]:
        """Forget the target (gallery, distractors, every counter); people stay tracked."""
        if self.state == State.IDLE:
            return True, "no target was enrolled"
        self.target.reset()
        self.state = State.IDLE
        self._out = FollowOutput(State.IDLE, tracks=self._out.tracks, embedded=self._out.embedded)
        return True, "target cleared"

    def save_gallery(self, path: str | Path) -> None:
        save_gallery(path, self.target.gallery, self.target.distractors)

    def load_gallery(self, path: str | Path) -> None:
        """Load a saved person: the follower then searches for them (state 'lost', anywhere in view)."""
        model = self.target
        model.reset()
        load_gallery(path, model.gallery, model.distractors, getattr(self.embedder, "dim", None))
        model.refit()
        model.missed = self.cfg.lost_after_frames
        self.state = State.LOST
