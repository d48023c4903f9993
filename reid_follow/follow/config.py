"""Parameters of the following core (the ``follow.`` section of the follower node)."""
from __future__ import annotations

from dataclasses import dataclass

from reid_follow.config_base import ConfigError, param

ENROLL_RULES = ("center", "largest", "nearest")


@dataclass
class FollowConfig:
    enroll_rule: str = param(
        "center", "Who /enroll_target picks: 'center' (the largest box among those nearest the "
                  "image centre: score = area / (1 + distance to centre / image width)), 'largest', "
                  "or 'nearest' (smallest depth; needs a depth topic, else falls back to 'largest').")
    min_detection_score: float = param(0.0, "Detections below this score are ignored.")
    iou_match: float = param(0.3, "Minimum IoU between the predicted target box and a detection "
                                  "for motion association.")
    lost_after_frames: int = param(15, "Frames without a match after which the target is 'lost'.")

    def validate(self) -> None:
        if self.enroll_rule not in ENROLL_RULES:
            raise ConfigError(f"follow.enroll_rule must be one of {ENROLL_RULES}, got {self.enroll_rule!r}")
        if not 0 <= self.iou_match <= 1:
            raise ConfigError("follow.iou_match must be in [0, 1]")
        if self.lost_after_frames < 1:
            raise ConfigError("follow.lost_after_frames must be >= 1")
