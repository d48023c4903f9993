"""Everything the follower knows about the enrolled person, in one object with one ``reset()``.

Appearance (gallery, distractor bank, the calibrated identity score) and the bookkeeping of the
state machine (missed frames, streaks, the candidate being confirmed, where the target was last
seen, the people it is crossing) live together so that forgetting a target (``clear``, a new
enrollment) cannot leave one counter stale.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reid_follow.follow.config import FollowConfig
from reid_follow.follow.gallery import DistractorBank, TargetGallery
from reid_follow.follow.identity import IdentityScore


HEIGHT_STEP_S = 0.04       # the frame interval (25 fps) that update_height_change and HEIGHT_SMOOTHING are per
HEIGHT_SMOOTHING = 0.2     # weight of a new height in the target's smoothed height, per HEIGHT_STEP_S


@dataclass
class LastSeen:
    """Where the target was last seen (box centre and size, px, moved with the camera) and when (s)."""

    centre: np.ndarray
    height: float
    width: float
    stamp: float

    def warp(self, warp: np.ndarray) -> None:
        """Follow a camera motion (2x3 affine from the previous frame to this one)."""
        self.centre = warp[:, :2] @ self.centre + warp[:, 2]
        scale = float(np.sqrt(abs(np.linalg.det(warp[:, :2]))))
        self.height *= scale
        self.width *= scale

    def box(self) -> np.ndarray:
        """The last-seen box (xyxy) where the camera motion has moved it."""
        half = np.array([self.width, self.height]) / 2
        return np.concatenate([self.centre - half, self.centre + half])

    def plausible(self, boxes: np.ndarray, stamp: float, max_speed: float) -> np.ndarray:
        """Mask of boxes whose centre a person could have reached since (see FollowConfig.max_speed)."""
        centres = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)
        radius = self.height * (1.0 + max_speed * max(stamp - self.stamp, 0.0))
        return np.linalg.norm(centres - self.centre, axis=1) <= radius


@dataclass
class Candidate:
    """A track being confirmed as the target: agreeing frames so far, where it was in the last of
    them, and the frames in a row since then where it disagreed (``lapses``, see
    FollowConfig.reacquire_lapses) or was not detected at all (``unseen``, see
    FollowConfig.reacquire_unseen_frames)."""

    track_id: int
    seen: LastSeen
    streak: int = 1
    lapses: int = 0
    unseen: int = 0


class TargetModel:
    """The enrolled person's appearance model and the follower's per-target counters."""

    def __init__(self, cfg: FollowConfig) -> None:
        self.cfg = cfg
        self.reset()

    def reset(self) -> None:
        """Forget the target entirely (the one reset path of clear() and of every enrollment)."""
        cfg = self.cfg
        self.gallery = TargetGallery(cfg.gallery_size, cfg.gallery_min_distance, cfg.enroll_samples)
        self.distractors = DistractorBank(cfg.distractor_size)
        self.identity = IdentityScore(cfg.identity_top_k)
        self.track_id: int | None = None
        self.missed = 0                      # frames since the target was last reported seen
        self.reject_streak = 0               # consecutive frames its own track did not look like it
        self.unbroken = False                # its own track matched every frame since it was last reported
        self.candidate: Candidate | None = None
        self.last_seen: LastSeen | None = None
        self.crossing: set[int] = set()      # tracks whose box overlapped the target's since last verified
        self.partners: set[int] = set()      # ... kept after the target was lost in a crossing (see partner())
        self.lockon = 0                      # frames left to lock onto a detection (box enrollment)
        self.score = 0.0                     # the target's latest identity score
        self.dirty = 0                       # samples added since the identity score was calibrated
        self.since_fit = 0
        self.height: float | None = None    # the target's box height, smoothed (steady_height)
        self.height_stamp = 0.0

    def drop_crossing(self) -> None:
        """The target is no longer tracked: the people it was crossing stay suspects (``partners``)."""
        self.partners |= self.crossing
        self.crossing.clear()

    def partner(self, track_id: int) -> bool:
        """The track crossed the target since it was last verified (ongoing or before it was lost): the
        tracker may have swapped the two, so this track may be carrying the target on."""
        return track_id in self.crossing or track_id in self.partners

    def steady_height(self, height: float, stamp: float, continuous: bool) -> bool:
        """Whether the target's box (``height`` px at ``stamp`` s) is as tall as it recently was, within
        ``update_height_change`` per HEIGHT_STEP_S since the previous call; then smooth the height with
        it (an exponential average, HEIGHT_SMOOTHING per HEIGHT_STEP_S), restarting from it after a
        gap (``continuous`` False). A box drifting onto someone else shrinks or grows steadily, and the
        average lags behind it; a walking person's height changes more slowly."""
        steps = max((stamp - self.height_stamp) / HEIGHT_STEP_S, 1.0)
        steady = self.height is None or abs(height / self.height - 1.0) <= self.cfg.update_height_change * steps
        if self.height is None or not continuous:
            self.height = height
        else:
            weight = 1.0 - (1.0 - HEIGHT_SMOOTHING) ** steps
            self.height += weight * (height - self.height)
        self.height_stamp = stamp
        return steady

    # ---- appearance ----------------------------------------------------------------------------
    def scores(self, embeddings: np.ndarray) -> np.ndarray | None:
        """P(target) of each embedding; None while the score cannot be calibrated yet."""
        if not self.identity.ready:
            return None
        return self.identity.score(embeddings, self.gallery.samples, self.distractors.array())

    def nearer_target(self, embedding: np.ndarray) -> bool:
        """The crop is more similar (cosine) to the target's samples than to every distractor, and
        more than any distractor ever was: it resembles the target more than anyone seen beside it.
        Scale-free, so it holds for any embedder before the identity score can be calibrated (a
        stranger walking into the target's place after a gap passes the first test alone)."""
        negatives = self.distractors.array()
        if negatives is None:
            return True
        similarity = float(self.gallery.similarity(embedding)[0])
        return similarity > float((negatives @ embedding).max()) \
            and similarity > float(self.gallery.similarity(negatives).max())

    def add_target(self, embedding: np.ndarray) -> bool:
        """Offer a trusted crop to the gallery; True when it was kept (not a near-duplicate)."""
        kept = self.gallery.add(embedding)
        self.dirty += int(kept)
        return kept

    def add_distractors(self, embeddings: np.ndarray) -> None:
        if len(embeddings):
            self.distractors.add(embeddings)
            self.dirty += len(embeddings)

    def refit(self) -> None:
        self.identity.fit(self.gallery.samples, self.distractors.array())
        self.dirty = self.since_fit = 0

    def tick(self) -> bool:
        """One frame of learning passed; refit when due. True when it refit."""
        self.since_fit += 1
        if self.dirty and self.since_fit >= self.cfg.refit_interval:
            self.refit()
            return True
        return False

    @property
    def enrolled_enough(self) -> bool:
        """The enrollment samples (the pinned rows of the gallery) are complete."""
        return len(self.gallery) >= self.cfg.enroll_samples
