"""The following core shared by the follower node and the offline tools (follow-video, eval-follow).

Per frame: the multi-person tracker associates detections (motion + selective appearance); the
target is one of its tracks. States (see FollowConfig for every threshold):

* ``idle``: nobody enrolled; people are still tracked so that enrollment can pick one.
* ``enrolling``: a person was picked; the first trustworthy samples fill the gallery.
* ``tracking``: the target's track is matched this frame; the gallery and the distractor bank
  learn, the classifier is refit. The target is never handed to another track in this state.
* ``occluded``: the target's track went unmatched (fewer than ``lost_after_frames`` frames).
* ``lost``: longer. In ``occluded`` and ``lost`` every visible person is embedded and scored; a
  candidate becomes the target only after ``reacquire_confirmations`` consecutive frames above
  ``reacquire_threshold`` (with ``reacquire_margin`` over the runner-up). No box is reported in
  either state, so the node publishes no /target_pose while the target is not seen.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from reid_follow.detect import nms
from reid_follow.follow.classifier import TargetClassifier
from reid_follow.follow.config import FollowConfig
from reid_follow.follow.gallery import DistractorBank, TargetGallery, load_gallery, save_gallery
from reid_follow.follow.types import FollowOutput, Observation
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


def box_depths(boxes: np.ndarray, depth: np.ndarray | None) -> np.ndarray | None:
    """Median depth (m) in the central part of each box, NaN where no valid depth; None without depth."""
    if depth is None:
        return None
    d = np.asarray(depth, dtype=np.float64)
    h, w = d.shape[:2]
    out = np.full(len(boxes), np.nan)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        cx1, cx2 = int(np.clip(x1 + (x2 - x1) / 3, 0, w)), int(np.clip(x2 - (x2 - x1) / 3, 0, w))
        cy1, cy2 = int(np.clip(y1 + (y2 - y1) / 4, 0, h)), int(np.clip(y1 + (y2 - y1) / 2, 0, h))
        patch = d[cy1:cy2, cx1:cx2]
        valid = patch[np.isfinite(patch) & (patch > 0)]
        if valid.size:
            out[i] = float(np.median(valid))
    return out


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
        self.gallery = TargetGallery(cfg.gallery_size, cfg.gallery_min_distance, cfg.enroll_samples)
        self.distractors = DistractorBank(cfg.distractor_size)
        self.classifier = TargetClassifier(cfg.classifier_regularization)
        self.state = "idle"
        self.target_id: int | None = None
        self._last: Observation | None = None
        self._last_stamp: float | None = None
        self._missed = 0
        self._reject_streak = 0
        self._candidate: tuple[int | None, int] = (None, 0)
        self._dirty = 0              # samples added since the classifier was last fitted
        self._since_fit = 0
        self._score = 0.0
        self._trusted_samples = 0    # trustworthy target crops seen since enrollment
        self._last_out: FollowOutput | None = None
        if cfg.gallery_file and Path(cfg.gallery_file).is_file():
            self.load_gallery(cfg.gallery_file)

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
        self._last = Observation(obs.frame, boxes, scores, obs.stamp, obs.depth)
        embed, counter = self._embed_fn(obs.frame, boxes)
        target = self.tracker.get(self.target_id)
        searching = self.state in ("occluded", "lost")
        focus = target.box if target is not None else None
        tracks = self.tracker.update(boxes, obs.frame, embed, focus=focus,
                                     embed_all=searching and len(self.gallery) > 0)
        out = self._step(boxes)
        out.tracks = [(t.track_id, boxes[t.detection].copy()) for t in tracks if t.detection >= 0]
        out.embedded = counter[0]
        self._last_out = out
        return out

    def restart_clock(self) -> None:
        """Accept stamps from zero again (a bag that loops, a restarted camera driver).

        Tracks, gallery and target are kept: the tracker's motion gates and the appearance
        model decide whether the person is still where the last frame had them.
        """
        self._last_stamp = None

    def current_output(self) -> FollowOutput:
        """The output for the latest frame as it stands now (e.g. right after an enrollment)."""
        prev = self._last_out
        target = self.tracker.get(self.target_id)
        box = None
        if self.state in ("enrolling", "tracking") and target is not None and target.detection >= 0 \
                and self._last is not None:
            box = self._last.boxes[target.detection].copy()
        return FollowOutput(self.state, box, self._score if box is not None else 0.0,
                            self.target_id if box is not None else None,
                            prev.tracks if prev else [], prev.embedded if prev else 0)

    def _embed_fn(self, frame: np.ndarray | None, boxes: np.ndarray):
        counter = [0]
        if self.embedder is None or frame is None:
            return None, counter

        def embed(idx: np.ndarray) -> np.ndarray:
            counter[0] += len(idx)
            return self.embedder.embed(frame, boxes[idx])
        return embed, counter

    def _step(self, boxes: np.ndarray) -> FollowOutput:
        if self.state == "idle":
            return FollowOutput("idle")
        target = self.tracker.get(self.target_id)
        seen = target is not None and target.detection >= 0
        if self.state in ("enrolling", "tracking"):
            if seen:
                return self._follow(target, boxes)
            self._missed += 1
            self.state = "occluded"
        else:
            self._missed += 1
        if self._missed >= self.cfg.lost_after_frames or (target is None and self.state == "occluded"):
            self.state = "lost"
        return self._search(target, boxes)

    def _follow(self, target: Track, boxes: np.ndarray) -> FollowOutput:
        """The target's own track is matched: report it, check it is still the person, learn."""
        score = self._track_score(target)
        if score is not None:
            self._score = score
            if score < self.cfg.reject_threshold and self.state == "tracking":
                # The track's crop does not look like the target: report nothing this frame, and
                # after reject_frames such frames assume the tracker swapped identities.
                self._reject_streak += 1
                if self._reject_streak >= self.cfg.reject_frames:
                    self._lose_target()
                else:
                    self.state = "occluded"
                    self._missed += 1
                return FollowOutput(self.state, score=score)
            self._reject_streak = 0
        self._missed = 0
        self._learn(target, boxes, score)
        return FollowOutput(self.state, boxes[target.detection].copy(), self._score, target.track_id)

    def _search(self, target: Track | None, boxes: np.ndarray) -> FollowOutput:
        """Target not matched: look for it among the people visible now; report nothing until found."""
        scored = [(s, t) for t in self.tracker.tracks if t.detection >= 0
                  for s in [self._track_score(t)] if s is not None]
        if target is not None and target.detection >= 0:   # its own track re-associated by the tracker
            score = self._track_score(target)
            best_other = max((s for s, t in scored if t is not target), default=0.0)
            if score is None or score >= self.cfg.resume_threshold or \
                    (score >= self.cfg.reject_threshold and score > best_other):
                return self._resume(target, boxes, score)
            if score < self.cfg.reject_threshold:
                self._reject_streak += 1
                if self._reject_streak >= self.cfg.reject_frames:
                    self._lose_target()      # its track now follows someone else: no privilege left
        if not scored:
            self._candidate = (None, 0)
            return FollowOutput(self.state)
        scored.sort(key=lambda st: -st[0])
        best_score, best = scored[0]
        runner_up = scored[1][0] if len(scored) > 1 else 0.0
        if best_score < self.cfg.reacquire_threshold or best_score - runner_up < self.cfg.reacquire_margin:
            self._candidate = (None, 0)
            return FollowOutput(self.state)
        cid, streak = self._candidate
        streak = streak + 1 if cid == best.track_id else 1
        self._candidate = (best.track_id, streak)
        if streak < self.cfg.reacquire_confirmations:
            return FollowOutput(self.state)
        return self._resume(best, boxes, best_score)

    def _resume(self, track: Track, boxes: np.ndarray, score: float | None) -> FollowOutput:
        self.target_id = track.track_id
        self.tracker.confirm(track.track_id)
        self.state = "tracking" if self._trusted_samples >= self.cfg.enroll_samples or self.embedder is None \
            else "enrolling"
        self._candidate = (None, 0)
        return self._follow(track, boxes)

    def _lose_target(self) -> None:
        self.target_id = None
        self.state = "lost"
        self._missed = self.cfg.lost_after_frames
        self._reject_streak = 0
        self._candidate = (None, 0)

    # ---- appearance ----------------------------------------------------------------------------
    def _track_score(self, track: Track) -> float | None:
        """Target confidence of a track's embedding from this frame; None when it was not embedded."""
        if track.fresh is None or len(self.gallery) == 0:
            return None
        if self.classifier.ready:
            return float(self.classifier.score(track.fresh)[0])
        return float(self.gallery.similarity(track.fresh)[0])

    def _learn(self, target: Track, boxes: np.ndarray, score: float | None) -> None:
        """Add trustworthy target samples and nearby people as distractors; refit now and then."""
        if target.fresh is not None:
            box = boxes[target.detection]
            others = np.delete(boxes, target.detection, axis=0)
            in_front = others[others[:, 3] > box[3]]         # nearer people (lower feet) hide the target
            overlap = float(coverage_matrix(box, in_front).max()) if len(in_front) else 0.0
            # While enrolling the classifier knows too little: trust an unambiguous motion match.
            confident = target.match_iou >= self.cfg.enroll_motion_iou if self.state == "enrolling" \
                else score is not None and score >= self.cfg.update_threshold
            trusted = target.status != TENTATIVE and overlap <= self.cfg.update_max_overlap and confident
            if trusted:
                self._trusted_samples += 1
                self._dirty += int(self.gallery.add(target.fresh))
        negatives = [t.fresh for t in self.tracker.tracks
                     if t is not target and t.fresh is not None and t.detection >= 0
                     and coverage_matrix(boxes[t.detection], boxes[target.detection])[0, 0] < 0.5]
        if negatives:
            self.distractors.add(np.stack(negatives))
            self._dirty += len(negatives)
        if self.state == "enrolling" and self._trusted_samples >= self.cfg.enroll_samples:
            self.state = "tracking"
            self._refit()
        self._since_fit += 1
        if self._dirty and self._since_fit >= self.cfg.refit_interval:
            self._refit()

    def _refit(self) -> None:
        """Refit the classifier; while tracking also keep the gallery file (if any) up to date."""
        if self.gallery.samples is not None:
            self.classifier.fit(self.gallery.samples, self.distractors.array())
            if self.cfg.gallery_file and self.state == "tracking":
                self.save_gallery(self.cfg.gallery_file)
        self._dirty, self._since_fit = 0, 0

    # ---- control -------------------------------------------------------------------------------
    def enroll(self, rule: str | None = None, roi: np.ndarray | None = None) -> tuple[bool, str]:
        """Enroll a person of the last observation by ``rule``, or the one best covering ``roi``."""
        obs = self._last
        if obs is None or len(obs.boxes) == 0:
            return False, "nobody in view: no person detections in the latest frame"
        if roi is not None:
            roi = np.asarray(roi, dtype=np.float64).reshape(4)
            ious = iou_matrix(roi, obs.boxes)[0]
            idx = int(np.argmax(ious))
            if ious[idx] < self.cfg.enroll_min_iou:
                return False, (f"no detected person matches the region {roi.round(1).tolist()} (best IoU "
                               f"{ious[idx]:.2f} < follow.enroll_min_iou {self.cfg.enroll_min_iou})")
        else:
            rule = rule or self.cfg.enroll_rule
            if obs.frame is not None:
                h, w = obs.frame.shape[:2]
            else:
                w, h = int(obs.boxes[:, 2].max()), int(obs.boxes[:, 3].max())
            idx = select_person(obs.boxes, rule, w, h, box_depths(obs.boxes, obs.depth))
        return self._enroll_detection(idx)

    def enroll_box(self, box: np.ndarray) -> tuple[bool, str]:
        """Enroll the detected person matching ``box`` (xyxy) in the last frame (follow-video --enroll)."""
        return self.enroll(roi=box)

    def _enroll_detection(self, idx: int) -> tuple[bool, str]:
        obs = self._last
        track = next((t for t in self.tracker.tracks if t.detection == idx), None)
        if track is None:
            return False, "the chosen detection has no track (call update with this frame first)"
        self.gallery = TargetGallery(self.cfg.gallery_size, self.cfg.gallery_min_distance, self.cfg.enroll_samples)
        self.distractors = DistractorBank(self.cfg.distractor_size)
        self.classifier = TargetClassifier(self.cfg.classifier_regularization)
        self._dirty = self._since_fit = 0
        self.target_id = track.track_id
        self.tracker.confirm(track.track_id)
        self._missed = self._reject_streak = 0
        self._candidate = (None, 0)
        self._score = 1.0
        self.state = "enrolling" if self.embedder is not None else "tracking"
        if self.embedder is not None and obs.frame is not None:
            emb = self.embedder.embed(obs.frame, obs.boxes)
            self.gallery.add(emb[idx])
            self._trusted_samples = 1
            others = np.delete(emb, idx, axis=0)
            if len(others):
                self.distractors.add(others)
            if self._trusted_samples >= self.cfg.enroll_samples:
                self.state = "tracking"
            self._refit()
        x1, y1, x2, y2 = obs.boxes[idx]
        return True, f"enrolled person at box x={x1:.0f} y={y1:.0f} w={x2 - x1:.0f} h={y2 - y1:.0f}"

    def clear(self) -> tuple[bool, str]:
        """Forget the target (gallery, distractors, classifier); people stay tracked."""
        if self.state == "idle":
            return True, "no target was enrolled"
        self.gallery = TargetGallery(self.cfg.gallery_size, self.cfg.gallery_min_distance, self.cfg.enroll_samples)
        self.distractors = DistractorBank(self.cfg.distractor_size)
        self.classifier = TargetClassifier(self.cfg.classifier_regularization)
        self.target_id, self.state, self._missed = None, "idle", 0
        return True, "target cleared"

    def save_gallery(self, path: str | Path) -> None:
        save_gallery(path, self.gallery, self.distractors)

    def load_gallery(self, path: str | Path) -> None:
        """Load a saved person: the follower then searches for them (state 'lost')."""
        load_gallery(path, self.gallery, self.distractors, getattr(self.embedder, "dim", None))
        self._refit()
        self.target_id, self.state, self._missed = None, "lost", self.cfg.lost_after_frames
        self._trusted_samples = len(self.gallery)
