"""What the following core takes in and gives back each frame."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# 'occluded': the target's track went unmatched for fewer than follow.lost_after_frames frames;
# like 'lost', no target box (and so no /target_pose) is reported.
STATES = ("idle", "enrolling", "tracking", "occluded", "lost")


@dataclass
class Observation:
    """One frame: image (BGR uint8, may be None), person boxes (N,4 xyxy px), scores, stamp (s)."""

    frame: np.ndarray | None
    boxes: np.ndarray
    scores: np.ndarray
    stamp: float
    depth: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        if len(self.scores) != len(self.boxes):
            raise ValueError(f"{len(self.boxes)} boxes but {len(self.scores)} scores")


@dataclass
class FollowOutput:
    """The target as reported for one frame; ``box`` is None unless the target is seen this frame.

    ``score`` is the target confidence (1.0 right after enrollment, the classifier's score after);
    ``tracks`` lists every person's track matched this frame; ``embedded`` counts the crops
    embedded this frame (selective embedding).
    """

    state: str
    box: np.ndarray | None = None
    score: float = 0.0
    track_id: int | None = None
    tracks: list[tuple[int, np.ndarray]] = field(default_factory=list)
    embedded: int = 0
