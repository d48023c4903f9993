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
        0.3, "An enrollment box or region (/enroll_roi, follow-video --enroll) is taken as the detected "
             "person it overlaps with at least this IoU; when none does (the detector missed them, a "
             "loose box), the target starts from the box itself and locks onto their detection.")
    enroll_lockon_frames: int = param(
        8, "After an enrollment from a box that no detection matched: frames the target's track may "
           "stay without a detection (its predicted box reported, marked predicted) while it locks "
           "onto the person's detection by motion and appearance; then 'occluded'.")
    enroll_samples: int = param(
        3, "Trustworthy appearance samples collected in state 'enrolling' before 'tracking'. While "
           "enrolling (the identity score is not calibrated yet) a crop is trusted when it overlaps "
           "nobody (crossing_iou) and is nearer (cosine) the target's samples than every distractor.")
    min_detection_score: float = param(0.0, "Detections below this score are ignored.")
    nms_iou: float = param(
        0.45, "Detections overlapping a higher-scoring one by more than this IoU are dropped (non-maximum "
              "suppression): duplicate boxes of one person, common in detection files (e.g. MOT16's DPM "
              "det.txt), would otherwise split the target's track. A no-op after the detector node, "
              "which applies the same NMS. 1 = off.")
    coast_frames: int = param(
        3, "While tracking, frames the target's track may go without a detection with its "
           "motion-predicted box still reported (FollowOutput.predicted, so a robot's goal does not "
           "blink at a detector miss); then 'occluded' and no box. 0 = report detections only.")
    coast_max_s: float = param(
        0.2, "... and for at most this many seconds since the target was last seen: at a low frame "
             "rate one frame is a long time, and a prediction 3 frames ahead at 3.5 fps drifted off "
             "the person (eval-follow, MOT16-05 at fps/4). 0.2 against 0.25 (eval-follow, default "
             "embedder): success -0.005, worst wrong-person cell 1.1 % -> 0, worst absent-correct "
             "cell 0.92 -> 0.97 (a prediction while the target walks behind someone). 0 = no coasting.")
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
        300, "Most embeddings kept of other people seen while the target is tracked (the 'seen "
             "distractor' hypothesis of the identity score, and its different-people calibration); "
             "oldest dropped first.")
    identity_top_k: int = param(
        3, "The identity score compares a crop with the gallery and with the distractors by the mean "
           "of its this-many highest cosine similarities to each (robust to one odd sample).")
    update_threshold: float = param(
        0.7, "The gallery learns from the target's crop, and the distractor bank from the people "
             "around it, only when the target's identity score is at least this (and the crop overlaps "
             "no other person, see update_max_overlap and crossing_iou).")
    update_max_overlap: float = param(
        0.25, "The gallery learns from the target's crop only when at most this fraction of it is "
              "covered by the box of a person in front (lower feet in the image): a crop showing "
              "mostly someone else would poison the gallery.")
    update_height_change: float = param(
        0.15, "Nothing is learnt from a frame where the target's box height differs from its recent "
              "height (smoothed, see TargetModel.steady_height) by more than this fraction per 40 ms "
              "since the previous frame (0.15 at 25 fps, 0.6 at 6 fps): a box sliding from the target "
              "onto a person beside it changes size faster than a walking person does (PathTrack HOG "
              "person 7, 20 % of detections dropped: 600 -> 390 px in 8 frames; the gallery learnt his "
              "companion and followed her for 95 frames). eval-follow's 358 runs (sweep, 2026-12-07): "
              "default embedder wrong frames 616 -> 521 (only that run changed), success 0.5068 -> "
              "0.5066; OSNet 533 -> 540 and 0.5524 -> 0.5511. 0.1 also paused learning on small, noisy "
              "boxes (OTB-Crossing's 50 px person: 35 % of frames 10 % off the average; OSNet success "
              "there -0.08 in three runs). 1: practically no pause (only for a box more than doubling).")
    refit_interval: int = param(5, "Frames between recalibrations of the identity score when samples were added.")
    crossing_iou: float = param(
        0.05, "The target's box overlapping another person's by at least this IoU is a crossing: "
              "nothing is learnt, and when they separate the follower verifies which of the people "
              "involved is the target before it reports again (the tracker may have swapped them).")
    crossing_behind_height: float = param(
        0.7, "... except a person clearly behind the target: box at most this fraction of the "
             "target's height and feet higher in the image (farther from the camera). The target, in "
             "front, shows in its own crop, and a box that much smaller cannot take over the target's "
             "track; their crop (mostly the target) is still not learnt as someone else's. A followed "
             "person near the camera overlaps the people behind in most frames (PathTrack person 7, "
             "546 px tall: 196 of 199 frames, 147 of them only with people behind), so without this "
             "the gallery never grows. 0 = every overlap is a crossing.")
    reacquire_threshold: float = param(
        0.8, "While 'occluded' or 'lost', a track counts as a candidate for the target only with an "
             "identity score at least this ...")
    reacquire_margin: float = param(
        0.9, "... clearly preferred to the next best track in the same frame: the probability that it, "
             "not that one, is the target (odds / (odds + odds of the other)) at least this ...")
    reacquire_confirmations: int = param(
        4, "... in a position motion allows (see max_speed) for this many frames (one look-alike "
           "frame never steals the target; see reacquire_lapses for frames between them).")
    reacquire_lapses: int = param(
        1, "A confirmation survives this many frames in a row where its candidate does not agree (its "
           "score below the threshold or the margin, or not matched) but is not rejected either (score "
           "at least reject_threshold, and no other track qualifies); such frames do not count towards "
           "the confirmations. 0 = the agreeing frames must be consecutive. A returning person's score "
           "flickers (OSNet on OTB-Crossing: 1.00, 1.00, 1.00, 0.44, 1.00, 0.79, 1.00, 0.01). 1 against 0 "
           "(eval-follow's 358 runs, 2026-12-07): OSNet success 0.543 -> 0.552, cells within the success "
           "aim 32 -> 33 and the absent-correct aim 24 -> 26, wrong-person cells unchanged (wrong frames "
           "without PathTrack person 26's broken gt 56 -> 69, PathTrack YOLOX drop20 1.0 -> 2.0 %); default "
           "0.506 -> 0.507, +2 wrong frames. Re-measured with update_height_change (2026-12-08, sweep): OSNet "
           "0.547 -> 0.551, success cells 33 -> 34, absent-correct cells 24 -> 26, wrong frames without "
           "person 26 56 -> 76 (PathTrack person 1 base and jitter5, person 23's suspect gt); default "
           "0.5062 -> 0.5066, +2. (On 2026-12-03's code it took an OSNet cell to 3.6 %.)")
    reacquire_unseen_frames: int = param(
        1, "A confirmation also survives this many frames in a row where its candidate is not detected "
           "at all (no detection on its track; no other track qualifies); they do not count either, "
           "and the candidate may come back as a new track where motion allows since it last agreed "
           "(the max_speed gate): a detector that finds a returning person only every other frame "
           "(MOT16-05's DPM) starts a new, tentative track each time, which dies at its first miss. "
           "0 = such a frame restarts the confirmation (unless reacquire_lapses allows it).")
    reacquire_min_samples: int = param(
        4, "Another track (not the target's own) can become the target, found while the target is "
           "searched for ('occluded', 'lost') or as a rival while tracking, only once the gallery "
           "holds at least this many samples: an identity score calibrated on fewer is overconfident "
           "(PathTrack with HOG detections: a background person scored 0.76-0.94 against a 3-sample "
           "gallery and was adopted). Neither the own track's resume nor a crossing partner's "
           "adoption is held to it (the tracker may have swapped the target with a person it "
           "crossed, and people walking side by side overlap in nearly every frame, leaving the "
           "gallery small).")
    search_weak_detections: bool = param(
        True, "While the target is searched for ('occluded', 'lost'), a weak detection (score in "
              "[tracking.low_score, tracking.high_score)) that no track takes starts a track too, so a "
              "returning target the detector is unsure of can be scored and confirmed like anyone "
              "(MOT16-05's DPM detections of returning people score 0.38-0.49). Tracking itself keeps "
              "the two-stage rule: weak detections only continue tracks.")
    resume_threshold: float = param(
        0.5, "The target's own track, when the tracker re-associates it after an occlusion (or after a "
             "crossing), counts as the target with an identity score at least this (and the margin "
             "and gate above) ...")
    resume_confirmations: int = param(
        2, "... for this many consecutive frames (fewer than another track needs: motion agrees).")
    max_speed: float = param(
        2.0, "Motion gate of every switch: a candidate's box centre must lie within (1 + max_speed x "
             "seconds since the target was last seen) x its last box height of where it was last seen "
             "(moved with the camera-motion estimate). In body heights per second: 2 is a run.")
    reject_threshold: float = param(
        0.2, "A frame where the target's own track scores below this reports no target ...")
    reject_frames: int = param(
        3, "... and after this many such frames in a row (or frames after a crossing where it is not "
           "clear which person is the target) the track is presumed swapped: it loses its privilege "
           "and the target is 'lost' until a candidate re-qualifies. Not a track the tracker matched "
           "in every frame since the target was last reported and that overlapped nobody meanwhile: "
           "it cannot have changed person (its look did), so it keeps the resume rule.")
    gallery_file: str = param(
        "", "If set: the gallery is loaded from this .npz file at start (the follower then searches "
            "for that person, state 'lost') and rewritten whenever the classifier is refit while "
            "tracking (every refit_interval frames at most).")
    tracking: TrackerConfig = section(TrackerConfig, "Multi-person tracker.")

    def validate(self) -> None:
        if self.enroll_rule not in ENROLL_RULES:
            raise ConfigError(f"follow.enroll_rule must be one of {ENROLL_RULES}, got {self.enroll_rule!r}")
        for name in ("enroll_min_iou", "nms_iou", "update_threshold", "update_max_overlap", "crossing_iou",
                     "crossing_behind_height", "update_height_change", "reacquire_threshold", "reacquire_margin",
                     "resume_threshold", "reject_threshold"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"follow.{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("enroll_samples", "enroll_lockon_frames", "lost_after_frames", "gallery_size",
                     "distractor_size", "identity_top_k", "refit_interval", "reacquire_confirmations",
                     "reacquire_min_samples",
                     "resume_confirmations", "reject_frames"):
            if getattr(self, name) < 1:
                raise ConfigError(f"follow.{name} must be >= 1, got {getattr(self, name)}")
        if self.enroll_samples > self.gallery_size:
            raise ConfigError("follow.enroll_samples must not exceed follow.gallery_size")
        if not 0.0 <= self.gallery_min_distance < 1.0:
            raise ConfigError("follow.gallery_min_distance must be in [0, 1)")
        for name in ("reacquire_lapses", "reacquire_unseen_frames"):
            if getattr(self, name) < 0:
                raise ConfigError(f"follow.{name} must be >= 0, got {getattr(self, name)}")
        if self.coast_frames < 0 or self.coast_max_s < 0 or self.max_speed <= 0:
            raise ConfigError("follow.coast_frames and follow.coast_max_s must be >= 0 and follow.max_speed > 0")
        self.tracking.validate()
