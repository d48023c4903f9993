"""Parameters of the multi-person tracker (the ``follow.tracking.`` ROS parameters)."""
from __future__ import annotations

from dataclasses import dataclass

from reid_follow.config_base import ConfigError, param


@dataclass
class TrackerConfig:
    min_hits: int = param(2, "Matched frames before a new (tentative) track is confirmed; a tentative track "
                             "that misses one frame is dropped, which filters one-frame false detections.")
    max_age: int = param(30, "Frames a confirmed track survives without a matching detection (kept 'lost' "
                             "so the person can be re-associated after an occlusion).")
    appearance_weight: float = param(
        0.6, "Weight of appearance (embedding cosine distance) against motion (1 - buffered IoU) in "
             "the association cost, where both track and detection have an embedding; 0 = motion only.")
    max_cost: float = param(
        0.7, "Largest association cost accepted. For a pair without embeddings the cost is 1 - buffered "
             "IoU, so this also sets the minimum buffered IoU of motion-only matches (1 - max_cost).")
    iou_buffer: float = param(
        0.3, "Motion cost is 1 - IoU of the predicted and detected boxes each grown by this fraction of "
             "its width / height on every side (C-BIoU): at 5-7 fps a person moves a quarter of their "
             "width per frame and plain IoU drops to 0 where the buffered one still measures distance.")
    high_score: float = param(
        0.5, "Two-stage association (ByteTrack): detections scoring at least this are matched first, on "
             "motion and appearance, and may start new tracks (detector scores in [0, 1]).")
    low_score: float = param(
        0.1, "Detections scoring in [low_score, high_score) are matched, on motion only, to the tracks "
             "the first stage left unmatched and start no track (a weak detection of an occluded "
             "person keeps its track; see follow.search_weak_detections for the exception); lower "
             "scores are ignored.")
    low_max_cost: float = param(
        0.5, "Largest motion cost (1 - buffered IoU) accepted in the second, low-score stage: stricter "
             "than max_cost because a weak detection has no appearance check.")
    position_noise: float = param(
        0.05, "Kalman process / measurement noise of the box position and height per frame, as a "
              "fraction of the box height.")
    velocity_noise: float = param(
        0.0125, "Kalman process noise of the box velocity per frame, as a fraction of the box height: "
                "larger than SORT's 1/160 so the filter follows a walker's change of pace at 5-7 fps, "
                "where one frame is 4-6 of a 25 fps camera's.")
    gate_chi2: float = param(
        20.0, "Motion gate: squared Mahalanobis distance between a detection and a track's predicted box "
              "above which they cannot be matched on motion (9.49 = 95 % for 4 dof; higher tolerates "
              "a shaking camera).")
    appearance_gate: float = param(
        0.0, "Appearance-led association: a detection whose cosine distance to a track's embedding is "
              "below this may match it even outside the motion gate (large image shifts of a moving "
              "camera, long occlusions). Off (0) by default: with the default descriptor, different "
              "people are sometimes that close, and on MOT16-05 a lost track jumped 200 px onto another "
              "person (eval-follow success 0.68 -> 0.79 there with the gate off); camera motion is "
              "compensated (gmc) instead.")
    appearance_veto: float = param(
        2.0, "A track and a detection whose embeddings are further apart than this cosine distance are "
             "never matched, however well their boxes overlap; 2 = off. Off by default: on PathTrack "
             "(loose, jittered boxes) a veto of 0.35-0.6 cut one person's track 2-4x more often than "
             "it prevented a swap, with the colour histogram and with OSNet (docs/follow.md).")
    embedding_momentum: float = param(
        0.8, "A track's embedding is an exponential moving average: new = m * old + (1 - m) * fresh.")
    refresh_frames: int = param(
        10, "Selective embedding: a track whose embedding is older than this many frames gets its "
            "detection embedded again even when motion alone is unambiguous.")
    gmc: bool = param(True, "Compensate camera motion (sparse optical flow + RANSAC partial affine, "
                            "OpenCV) before predicting tracks; needs the image.")
    gmc_height: int = param(160, "Camera-motion estimation works on the grey image shrunk to this many rows "
                                 "(never enlarged): the cost stays ~1.4 ms/frame at any resolution.")

    def validate(self) -> None:
        if self.min_hits < 1:
            raise ConfigError("follow.tracking.min_hits must be >= 1")
        if self.max_age < 1:
            raise ConfigError("follow.tracking.max_age must be >= 1")
        for name in ("appearance_weight", "max_cost", "low_max_cost", "embedding_momentum", "high_score",
                     "low_score"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"follow.tracking.{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("appearance_gate", "appearance_veto"):
            if not 0.0 <= getattr(self, name) <= 2.0:
                raise ConfigError(f"follow.tracking.{name} is a cosine distance in [0, 2]")
        if self.low_score > self.high_score:
            raise ConfigError("follow.tracking.low_score must be <= follow.tracking.high_score")
        if self.iou_buffer < 0 or self.position_noise <= 0 or self.velocity_noise <= 0:
            raise ConfigError("follow.tracking.iou_buffer must be >= 0 and the Kalman noises > 0")
        if self.gate_chi2 <= 0:
            raise ConfigError("follow.tracking.gate_chi2 must be > 0")
        if self.refresh_frames < 1:
            raise ConfigError("follow.tracking.refresh_frames must be >= 1")
        if self.gmc_height < 16:
            raise ConfigError("follow.tracking.gmc_height must be >= 16 rows")
