"""The following core shared by the follower node and the offline tools.

First version: motion-only association (IoU with the last target box).  The API is what the
node, ``follow-video`` and ``eval-follow`` call; internals are replaced by the tracker, gallery
and re-acquisition state machine.
"""
from __future__ import annotations

import numpy as np

from reid_follow.follow.config import FollowConfig
from reid_follow.follow.types import FollowOutput, Observation


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.reshape(-1, 1, 4), b.reshape(1, -1, 4)
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


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


class TargetFollower:
    """Keeps the enrolled person's box frame to frame and reports idle / tracking / lost."""

    def __init__(self, cfg: FollowConfig, embedder: object | None = None) -> None:
        cfg.validate()
        self.cfg = cfg
        self.embedder = embedder
        self._last: Observation | None = None
        self._box: np.ndarray | None = None
        self._missed = 0
        self.state = "idle"

    def update(self, obs: Observation) -> FollowOutput:
        keep = obs.scores >= self.cfg.min_detection_score
        boxes = obs.boxes[keep]
        self._last = Observation(obs.frame, boxes, obs.scores[keep], obs.stamp, obs.depth)
        if self._box is None:
            return FollowOutput(self.state)
        if len(boxes):
            ious = iou_matrix(self._box, boxes)[0]
            j = int(np.argmax(ious))
            if ious[j] >= self.cfg.iou_match:
                self._box, self._missed, self.state = boxes[j].copy(), 0, "tracking"
                return FollowOutput("tracking", self._box.copy(), float(ious[j]), 0)
        self._missed += 1
        if self._missed >= self.cfg.lost_after_frames:
            self.state = "lost"
        return FollowOutput(self.state)

    def enroll(self, rule: str | None = None, roi: np.ndarray | None = None) -> tuple[bool, str]:
        """Enroll a person of the last observation by ``rule``, or the one best covering ``roi``."""
        obs = self._last
        if obs is None or len(obs.boxes) == 0:
            return False, "nobody in view: no person detections in the latest frame"
        if roi is not None:
            ious = iou_matrix(np.asarray(roi, dtype=np.float64), obs.boxes)[0]
            if ious.max() <= 0:
                return False, "no detected person overlaps the requested region"
            idx = int(np.argmax(ious))
        else:
            h, w = obs.frame.shape[:2] if obs.frame is not None else (0, 0)
            if w == 0:
                w, h = int(obs.boxes[:, 2].max()), int(obs.boxes[:, 3].max())
            idx = select_person(obs.boxes, rule or self.cfg.enroll_rule, w, h)
        self._box, self._missed, self.state = obs.boxes[idx].copy(), 0, "tracking"
        x1, y1, x2, y2 = self._box
        return True, f"enrolled person at box x={x1:.0f} y={y1:.0f} w={x2 - x1:.0f} h={y2 - y1:.0f}"

    def clear(self) -> tuple[bool, str]:
        if self._box is None:
            return True, "no target was enrolled"
        self._box, self._missed, self.state = None, 0, "idle"
        return True, "target cleared"
