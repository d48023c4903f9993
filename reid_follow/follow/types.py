"""What the following core takes in and gives back each frame."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

class State(enum.StrEnum):
    """The follower's state; a StrEnum so string comparisons and the published status keep working.

    OCCLUDED: the target's track went unmatched for fewer than follow.lost_after_frames frames;
    like LOST, no target box (and so no /target_pose) is reported.
    """

    IDLE = "idle"
    ENROLLING = "enrolling"
    TRACKING = "tracking"
    OCCLUDED = "occluded"
    LOST = "lost"


STATES = tuple(s.value for s in State)


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
    embedded this frame (selective embedding). ``predicted`` is True when ``box`` is a
    motion-coasted prediction rather than a detection; ``scores`` maps each track scored this
    frame to its target confidence in [0, 1] (for the benchmark's calibration plot).
    """

    state: str
    box: np.ndarray | None = None
    score: float = 0.0
    track_id: int | None = None
    tracks: list[tuple[int, np.ndarray]] = field(default_factory=list)
    embedded: int = 0
    predicted: bool = False
    scores: dict[int, float] = field(default_factory=dict)
