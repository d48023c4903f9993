"""Parameters of the following core (the ``follow.`` section of the follower node)."""
from __future__ import annotations

from dataclasses import dataclass

from reid_follow.config_base import ConfigError, param, section
from reid_follow.tracking.config import TrackerConfig

ENROLL_RULES = ("center", "largest", "nearest")


@dataclass
class FollowConfig:
    enroll_rule: str = param(
        "center", "Who /enroll_target picks: 'center' (the largest box among those nearest the "
                  "image centre: score = area / (1 + distance to centre / image width)), 'largest', "
                  "or 'nearest' (smallest depth; needs a depth topic, else falls back to 'largest').")
    enroll_min_iou: float = param(
        0.3, "An enrollment box or region (/enroll_roi, follow-video --enroll) must overlap a detected "
             "person with at least this IoU, else enrollment fails with the best IoU found.")
    enroll_samples: int = param(
        3, "Trustworthy appearance samples collected in state 'enrolling' before 'tracking'.")
    enroll_motion_iou: float = param(
        0.5, "While enrolling (the classifier knows too little yet) a target crop is trusted only if "
             "its detection overlaps the track's predicted box with at least this IoU.")
    min_detection_score: float = param(0.0, "Detections below this score are ignored.")
    nms_iou: float = param(
        0.45, "Detections overlapping a higher-scoring one by more than this IoU are dropped (non-maximum "
              "suppression): duplicate boxes of one person, common in detection files (e.g. MOT16's DPM "
              "det.txt), would otherwise split the target's track. A no-op after the detector node, "
              "which applies the same NMS. 1 = off.")
    lost_after_frames: int = param(
        15, "Frames the target's track may go unmatched ('occluded', no pose published) before the "
            "state becomes 'lost'. Re-acquisition is possible in both states.")
    gallery_size: int = param(
        60, "Most embeddings kept of the enrolled person; when full the most redundant non-enrollment "
            "sample is replaced, so the gallery stays diverse (views, poses, lighting).")
    gallery_min_distance: float = param(
        0.02, "A new target sample is kept only if its cosine distance to every gallery sample is at "
              "least this (near-duplicates of the last frames add nothing).")
    distractor_size: int = param(
        300, "Most embeddings kept of other people seen while the target is tracked (negatives of the "
             "classifier); oldest dropped first.")
    update_threshold: float = param(
        0.6, "The gallery learns from the target's crop only when its target confidence is at least "
             "this (and it overlaps no other person, see update_max_overlap).")
    update_max_overlap: float = param(
        0.25, "The gallery learns from the target's crop only when at most this fraction of it is "
              "covered by the box of a person in front (lower feet in the image): a crop showing "
              "mostly someone else would poison the gallery.")
    classifier_regularization: float = param(
        0.3, "Ridge penalty of the online target classifier (positives: gallery, negatives: "
             "distractors); larger = smoother, less confident scores.")
    refit_interval: int = param(5, "Frames between refits of the target classifier when samples were added.")
    reacquire_threshold: float = param(
        0.6, "While 'occluded' or 'lost', a candidate track counts as the target only with a "
              "target confidence at least this ...")
    reacquire_margin: float = param(
        0.15, "... and at least this much above the next best candidate in the same frame ...")
    reacquire_confirmations: int = param(
        5, "... for this many consecutive frames (one look-alike frame never steals the target).")
    resume_threshold: float = param(
        0.6, "After an occlusion the target's own track, when the tracker re-associates it, is "
             "resumed at once if its target confidence is at least this, or at least reject_threshold "
             "and above every other visible person's (else it must re-qualify as a candidate).")
    reject_threshold: float = param(
        0.2, "A frame where the target's own track scores below this reports no target ...")
    reject_frames: int = param(
        4, "... and after this many such frames in a row the tracker is assumed to have swapped "
           "identities: the track loses its privilege and the target is 'lost' until a candidate "
           "re-qualifies.")
    gallery_file: str = param(
        "", "If set: the gallery is loaded from this .npz file at start (the follower then searches "
            "for that person, state 'lost') and rewritten whenever the classifier is refit while "
            "tracking (every refit_interval frames at most).")
    tracking: TrackerConfig = section(TrackerConfig, "Multi-person tracker.")

    def validate(self) -> None:
        if self.enroll_rule not in ENROLL_RULES:
            raise ConfigError(f"follow.enroll_rule must be one of {ENROLL_RULES}, got {self.enroll_rule!r}")
        for name in ("enroll_min_iou", "enroll_motion_iou", "nms_iou", "update_threshold", "update_max_overlap", "reacquire_threshold",
                     "reacquire_margin", "resume_threshold", "reject_threshold"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"follow.{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("enroll_samples", "lost_after_frames", "gallery_size", "distractor_size",
                     "refit_interval", "reacquire_confirmations", "reject_frames"):
            if getattr(self, name) < 1:
                raise ConfigError(f"follow.{name} must be >= 1, got {getattr(self, name)}")
        if self.enroll_samples > self.gallery_size:
            raise ConfigError("follow.enroll_samples must not exceed follow.gallery_size")
        if not 0.0 <= self.gallery_min_distance < 1.0:
            raise ConfigError("follow.gallery_min_distance must be in [0, 1)")
        if self.classifier_regularization <= 0:
            raise ConfigError("follow.classifier_regularization must be > 0")
        self.tracking.validate()
