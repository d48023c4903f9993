"""Multi-person tracker: Kalman prediction, camera-motion compensation, Hungarian association.

Association cost per (track, detection): ``1 - buffered IoU`` on motion (both boxes grown by
``iou_buffer`` of their size, so that a person who moved further than their own width between two
frames of a slow pipeline still has a motion cost), fused with the embedding cosine distance where
both sides have an embedding (``appearance_weight``). A pair is allowed when the detection lies
inside the track's Mahalanobis gate (which widens with the time since the track was last seen, as
its Kalman covariance grows), or when its appearance is close enough on its own
(``appearance_gate``): a robot camera can shift the image further than any motion gate. A pair
whose appearance is clearly different (``appearance_veto``) is never allowed.

With detection scores the association has two stages, as in ByteTrack (Zhang et al. 2022):
confident detections (``high_score``) first, then the weak ones (``low_score``) for the tracks
still unmatched, on motion only; weak detections never start a track, so a partly occluded
person's faint detection keeps their track alive without letting clutter create new ones.

Embedding every detection every frame does not fit a small CPU, so the tracker asks for
embeddings only where they decide something (see :meth:`MultiTracker.embed_mask`), through a
callback ``embed(indices) -> (k, dim)`` that the caller binds to the current frame.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from reid_follow.tracking.config import TrackerConfig
from reid_follow.tracking.geometry import expand_boxes, iou_matrix
from reid_follow.tracking.gmc import CameraMotion, rescale_states, warp_states
from reid_follow.tracking.kalman import KalmanBoxFilter, xyah_to_xyxy


class TrackStatus(enum.StrEnum):
    """Life cycle of a track: tentative until ``min_hits`` matches, then confirmed; lost while unmatched."""

    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    LOST = "lost"


TENTATIVE, CONFIRMED, LOST = TrackStatus.TENTATIVE, TrackStatus.CONFIRMED, TrackStatus.LOST
INFEASIBLE = 1e6
EmbedFn = Callable[[np.ndarray], np.ndarray]


@dataclass
class Track:
    """One person's track; ``fresh`` is the embedding computed this frame (None if not computed)."""

    track_id: int
    mean: np.ndarray
    cov: np.ndarray
    status: TrackStatus = TENTATIVE
    hits: int = 1
    time_since_update: int = 0
    embedding: np.ndarray | None = None
    embedded_at: int = -1
    fresh: np.ndarray | None = None
    detection: int = -1          # index of this frame's matched detection, -1 when unmatched
    match_iou: float = 0.0       # IoU of that detection with the predicted box (motion agreement)
    score: float = 1.0           # detector score of that detection (1 without scores)

    @property
    def box(self) -> np.ndarray:
        """The current box estimate (xyxy pixels): the Kalman prediction when unmatched this frame."""
        return xyah_to_xyxy(self.mean[None, :4])[0]

    def absorb(self, embedding: np.ndarray | None, frame_index: int, momentum: float) -> None:
        self.fresh = embedding
        if embedding is None:
            return
        if self.embedding is None:
            self.embedding = embedding.copy()
        else:
            mixed = momentum * self.embedding + (1.0 - momentum) * embedding
            self.embedding = mixed / max(float(np.linalg.norm(mixed)), 1e-12)
        self.embedded_at = frame_index


class MultiTracker:
    """Tracks every person; ``update`` once per frame returns the live tracks."""

    def __init__(self, cfg: TrackerConfig) -> None:
        cfg.validate()
        self.cfg = cfg
        self.kf = KalmanBoxFilter(cfg.position_noise, cfg.velocity_noise)
        self.motion = CameraMotion(cfg.gmc_height)
        self.tracks: list[Track] = []
        self.frame_index = 0
        self._next_id = 1
        self._shape: tuple[int, ...] | None = None
        self.last_warp: np.ndarray | None = None

    def reset(self) -> None:
        self.tracks, self._next_id, self.frame_index = [], 1, 0
        self.motion.reset()

    def get(self, track_id: int | None) -> Track | None:
        return next((t for t in self.tracks if t.track_id == track_id), None)

    def confirm(self, track_id: int) -> None:
        """Mark a track confirmed at once (an enrolled person must not die as a tentative track)."""
        track = self.get(track_id)
        if track is not None:
            track.status = CONFIRMED

    def start_track(self, box: np.ndarray, embedding: np.ndarray | None = None) -> Track:
        """A confirmed track for a box that no detection matched (a user's enrollment box where the
        detector missed the person); call after this frame's :meth:`update`.

        When a track that went unmatched this frame lies on the box (the person was tracked until
        the detector missed them), that track takes the box as its measurement and is returned, so
        the person does not get a second, competing track. Otherwise a new track starts from the
        box; its position is less certain than a detection's, so its gate starts wider. Either way
        it locks onto the person's detection in the next frames by motion, and by appearance when
        ``embedding`` (the box crop's) is given.
        """
        box = np.asarray(box, dtype=np.float64).reshape(4)
        track = self._unmatched_on(box)
        if track is None:
            mean, cov = self.kf.initiate(box)
            cov[:4, :4] *= 4.0                 # a hand-drawn box is looser than a detection
            track = Track(self._next_id, mean, cov, hits=max(self.cfg.min_hits, 1))
            self._next_id += 1
            self.tracks.append(track)
        else:
            track.mean, track.cov = self.kf.update(track.mean, track.cov, box)
            track.time_since_update = 0
        track.status = CONFIRMED
        if embedding is not None:
            track.absorb(np.asarray(embedding, dtype=np.float32), self.frame_index, self.cfg.embedding_momentum)
        return track

    def _unmatched_on(self, box: np.ndarray) -> Track | None:
        """The track without a detection this frame that motion associates best with ``box``, if any."""
        free = [t for t in self.tracks if t.detection < 0]
        if not free:
            return None
        means, covs = np.stack([t.mean for t in free]), np.stack([t.cov for t in free])
        cost = 1.0 - self.motion_iou(np.stack([t.box for t in free]), box[None])[:, 0]
        cost[self.kf.gating_distance(means, covs, box[None])[:, 0] > self.cfg.gate_chi2] = np.inf
        best = int(np.argmin(cost))
        return free[best] if cost[best] <= self.cfg.max_cost else None

    def predict(self, frame: np.ndarray | None, boxes: np.ndarray) -> np.ndarray:
        """Advance every track one frame (camera motion first, then Kalman); predicted boxes (T, 4).

        A new image size rescales every track (the follower's boxes come in the new pixels)."""
        self.frame_index += 1
        scale = None
        if frame is not None:
            if self._shape is not None and frame.shape[:2] != self._shape[:2]:
                self.motion.reset()
                scale = (frame.shape[1] / self._shape[1], frame.shape[0] / self._shape[0])
            self._shape = frame.shape
            if self.cfg.gmc:
                # People move on their own: mask this frame's detections and every live track
                # (a person the detector misses, e.g. a target enrolled from a box, would bias it).
                people = boxes.reshape(-1, 4)
                if self.tracks:
                    people = np.vstack([people, xyah_to_xyxy(np.stack([t.mean[:4] for t in self.tracks]))])
                self.last_warp = self.motion.estimate(frame, people)
        if not self.tracks:
            return np.zeros((0, 4))
        means = np.stack([t.mean for t in self.tracks])
        covs = np.stack([t.cov for t in self.tracks])
        if scale is not None:
            means, covs = rescale_states(means, covs, *scale)
        if self.last_warp is not None and frame is not None and self.cfg.gmc:
            means, covs = warp_states(means, covs, self.last_warp)
        means, covs = self.kf.predict(means, covs)
        for t, m, c in zip(self.tracks, means, covs):
            t.mean, t.cov, t.fresh, t.detection, t.match_iou, t.score = m, c, None, -1, 0.0, 1.0
        return xyah_to_xyxy(means[:, :4])

    def motion_iou(self, predicted: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(tracks, detections) buffered IoU, the motion similarity of association (``iou_buffer``)."""
        b = self.cfg.iou_buffer
        return iou_matrix(expand_boxes(predicted, b), expand_boxes(boxes, b))

    def embed_mask(self, predicted: np.ndarray, boxes: np.ndarray, focus: np.ndarray | None,
                   embed_all: bool) -> np.ndarray:
        """Which detections need an embedding this frame (selective embedding).

        A detection is embedded when it is new (overlaps no track), contested (a second track
        overlaps it nearly as well as the best, or its best track has a close second detection),
        near ``focus`` (the target's predicted box, widened by its own size), or when its best
        track's embedding is stale. Plain IoU, not the buffered one: a fast mover whose boxes no
        longer overlap is exactly where appearance must help motion.
        """
        n = len(boxes)
        if embed_all or n == 0:
            return np.ones(n, dtype=bool)
        min_iou = 1.0 - self.cfg.max_cost
        iou = iou_matrix(predicted, boxes) if len(predicted) else np.zeros((0, n))
        need = ~(iou > min_iou).any(axis=0)
        if len(predicted):
            best = iou.argmax(axis=0)
            need |= _contested(iou, min_iou) | _contested(iou.T, min_iou)[best]
            stale = np.array([self.frame_index - t.embedded_at >= self.cfg.refresh_frames for t in self.tracks])
            need |= stale[best]
        if focus is not None:
            x1, y1, x2, y2 = focus
            w, h = x2 - x1, y2 - y1
            need |= iou_matrix(np.array([x1 - w, y1 - h / 2, x2 + w, y2 + h / 2]), boxes)[0] > 0
        return need

    def update(self, boxes: np.ndarray, frame: np.ndarray | None = None, embed: EmbedFn | None = None,
               focus: np.ndarray | None = None, embed_all: bool = False,
               scores: np.ndarray | None = None, start_weak: bool = False) -> list[Track]:
        """Associate this frame's detections (xyxy) with the tracks; returns the live tracks.

        ``embed`` (optional) returns embeddings for the detection indices it is given; without it
        association is motion only. ``focus``/``embed_all`` steer which detections get embedded.
        ``scores`` (optional, one per box, in [0, 1]) turns on the two-stage association; without
        them every box is a confident detection. ``start_weak``: a weak detection left unmatched
        starts a (tentative) track too, as a confident one does; the follower asks for it while it
        searches for its target, whose returning detection may be weak. ``Track.detection`` indexes
        ``boxes``.
        """
        cfg = self.cfg
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        score = np.ones(len(boxes)) if scores is None else np.asarray(scores, dtype=np.float64).reshape(-1)
        if len(score) != len(boxes):
            raise ValueError(f"{len(score)} scores for {len(boxes)} boxes")
        high = np.flatnonzero(score >= cfg.high_score)
        low = np.flatnonzero((score >= cfg.low_score) & (score < cfg.high_score))
        predicted = self.predict(frame, boxes)
        det_emb: list[np.ndarray | None] = [None] * len(boxes)
        if embed is not None and len(high):
            idx = high[self.embed_mask(predicted, boxes[high], focus, embed_all)]
            if len(idx):
                for i, e in zip(idx, np.asarray(embed(idx), dtype=np.float32)):
                    det_emb[i] = e
        all_tracks = np.arange(len(self.tracks))
        matches, unmatched_tracks, new = self._associate(all_tracks, predicted, boxes, high, det_emb,
                                                         cfg.max_cost)
        # Second stage: the weak detections, on motion only, for the tracks the first one left.
        weak, _, unmatched_weak = self._associate(np.array(unmatched_tracks, dtype=int), predicted, boxes,
                                                  low, [None] * len(boxes), cfg.low_max_cost)
        matches += weak
        if start_weak:
            new += unmatched_weak
        if matches:
            ti_, di_ = np.array(matches).T
            match_iou = iou_matrix(predicted[ti_], boxes[di_]).diagonal()
            means, covs = self.kf.update_many(np.stack([self.tracks[i].mean for i in ti_]),
                                              np.stack([self.tracks[i].cov for i in ti_]), boxes[di_])
        for k, (ti, di) in enumerate(matches):
            t = self.tracks[ti]
            t.match_iou = float(match_iou[k])
            t.mean, t.cov = means[k], covs[k]
            t.hits += 1
            t.time_since_update = 0
            t.detection, t.score = di, float(score[di])
            if t.status != CONFIRMED and t.hits >= cfg.min_hits:
                t.status = CONFIRMED
            t.absorb(det_emb[di], self.frame_index, cfg.embedding_momentum)
        matched_tracks = {ti for ti, _ in matches}
        survivors = []
        for ti, t in enumerate(self.tracks):
            if ti not in matched_tracks:
                t.time_since_update += 1
                if t.status == TENTATIVE or t.time_since_update > cfg.max_age:
                    continue
                t.status = LOST
            elif t.status == LOST:
                t.status = CONFIRMED
            survivors.append(t)
        for di in new:
            mean, cov = self.kf.initiate(boxes[di])
            t = Track(self._next_id, mean, cov, status=CONFIRMED if cfg.min_hits <= 1 else TENTATIVE,
                      detection=di, score=float(score[di]))
            t.absorb(det_emb[di], self.frame_index, cfg.embedding_momentum)
            self._next_id += 1
            survivors.append(t)
        self.tracks = survivors
        return self.tracks

    def _associate(self, rows: np.ndarray, predicted: np.ndarray, boxes: np.ndarray, cols: np.ndarray,
                   det_emb: list[np.ndarray | None], max_cost: float
                   ) -> tuple[list[tuple[int, int]], list[int], list[int]]:
        """Hungarian matching of tracks ``rows`` to detections ``cols`` (indices into self.tracks / boxes);
        the (track, detection) matches, the unmatched tracks and the unmatched detections."""
        rows, cols = np.asarray(rows, dtype=int), np.asarray(cols, dtype=int)
        if not len(rows) or not len(cols):
            return [], rows.tolist(), cols.tolist()
        cost = self.cost_matrix(predicted, boxes, det_emb)[np.ix_(rows, cols)]
        r, c = linear_sum_assignment(cost)
        matches = [(int(rows[i]), int(cols[j])) for i, j in zip(r, c) if cost[i, j] <= max_cost]
        matched_t, matched_d = {t for t, _ in matches}, {d for _, d in matches}
        return (matches, [int(t) for t in rows if t not in matched_t], [int(d) for d in cols if d not in matched_d])

    def cost_matrix(self, predicted: np.ndarray, boxes: np.ndarray,
                    det_emb: list[np.ndarray | None]) -> np.ndarray:
        """Fused, gated (tracks, detections) cost; INFEASIBLE where a pair is not allowed."""
        cfg = self.cfg
        motion = 1.0 - self.motion_iou(predicted, boxes)
        means = np.stack([t.mean for t in self.tracks])
        covs = np.stack([t.cov for t in self.tracks])
        # The Mahalanobis gate guards against implausible jumps; a detection that overlaps the
        # prediction (plain IoU >= 1 - max_cost) is no jump, only a different shape: a partial
        # detection of a half-occluded person (measured on OTB-Crossing: 49 px tall -> 32 px, gate
        # distance 25 > gate_chi2, which split the target's track at its first frame).
        # A detection out of a track's reach is not a motion match either, however alike they look:
        # the reach is the buffered box, widened by one more buffer per frame the track went unseen.
        # Without it the fused cost let a look-alike anywhere inside a lost track's grown gate take
        # it (measured on MOT16-05: a jump of 200 px onto another person).
        unseen = np.array([t.time_since_update for t in self.tracks], dtype=np.float64)
        reach = iou_matrix(expand_boxes(predicted, cfg.iou_buffer * (1.0 + unseen)), boxes) > 0
        in_gate = ((self.kf.gating_distance(means, covs, boxes) <= cfg.gate_chi2) & reach) \
            | (iou_matrix(predicted, boxes) >= 1.0 - cfg.max_cost)
        appearance = np.full(motion.shape, np.nan)
        track_rows = [i for i, t in enumerate(self.tracks) if t.embedding is not None]
        det_cols = [j for j, e in enumerate(det_emb) if e is not None]
        if track_rows and det_cols and cfg.appearance_weight > 0:
            te = np.stack([self.tracks[i].embedding for i in track_rows])
            de = np.stack([det_emb[j] for j in det_cols])
            appearance[np.ix_(track_rows, det_cols)] = 1.0 - te @ de.T
        has_app = ~np.isnan(appearance)
        fused = np.where(has_app, (1 - cfg.appearance_weight) * motion + cfg.appearance_weight *
                         np.nan_to_num(appearance), motion)
        app = np.nan_to_num(appearance, nan=0.0)
        allowed = (in_gate | (has_app & (app < cfg.appearance_gate))) & (app <= cfg.appearance_veto)
        # A track that was unseen for a while is less certain: later-seen tracks win ties.
        age = np.array([min(t.time_since_update, 10) for t in self.tracks], dtype=np.float64)[:, None]
        return np.where(allowed, fused + 0.005 * age, INFEASIBLE)


def _contested(iou: np.ndarray, min_iou: float, margin: float = 0.2) -> np.ndarray:
    """Per column: the runner-up row also passes ``min_iou`` and is within ``margin`` of the best."""
    if iou.shape[0] < 2:
        return np.zeros(iou.shape[1], dtype=bool)
    top = -np.sort(-iou, axis=0)[:2]
    return (top[1] > min_iou) & (top[0] - top[1] < margin)
