"""Offline following: the same TargetFollower as the node, driven frame by frame from files.

Shared by ``reid-follow follow-video``, ``eval-follow`` and ``bench follow``.
"""
from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from reid_follow.follow.follower import TargetFollower
from reid_follow.follow.types import FollowOutput, Observation
from reid_follow.mot import MotRows, xywh_to_xyxy, xyxy_to_xywh

Detections = Callable[[int, np.ndarray], tuple[np.ndarray, np.ndarray]]


class EnrollmentError(ValueError):
    """The requested enrollment could not be made (no such frame; a box outside the image or degenerate)."""


def parse_enroll(text: str) -> tuple[int, np.ndarray]:
    """``FRAME:X,Y,W,H`` (1-based frame, top-left box in pixels) -> (frame, xyxy box)."""
    frame_text, sep, box_text = text.partition(":")
    try:
        frame = int(frame_text)
        x, y, w, h = (float(v) for v in box_text.split(","))
    except ValueError:
        frame, sep = 0, ""
    if not sep or frame < 1:
        raise EnrollmentError(f"--enroll must be FRAME:X,Y,W,H with a 1-based frame, got {text!r}")
    if not (w > 0 and h > 0 and np.isfinite([x, y, w, h]).all()):
        raise EnrollmentError(f"--enroll box needs finite values and width, height > 0, got {text!r}")
    return frame, xywh_to_xyxy([x, y, w, h])[0]


def mot_detections(rows: MotRows) -> Detections:
    """A detection source reading MOTChallenge rows by 1-based frame number."""
    starts = np.searchsorted(rows.frame, np.arange(rows.frame.max(initial=0) + 2))

    def detections(frame_no: int, _frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if frame_no + 1 >= len(starts):
            return np.zeros((0, 4)), np.zeros(0)
        a, b = starts[frame_no], starts[frame_no + 1]
        return xywh_to_xyxy(rows.xywh[a:b]), rows.score[a:b].copy()
    return detections


def detector_detections(detector: object) -> Detections:
    """A detection source running a built-in detector on each frame."""
    return lambda _frame_no, frame: detector.detect(frame)


def follow_frames(follower: TargetFollower, frames: Iterable[np.ndarray], detections: Detections,
                  enroll_frame: int, enroll_box: np.ndarray, total: int | None = None, fps: float = 30.0,
                  progress: bool = True, on_frame: Callable[[int, np.ndarray, FollowOutput], None] | None = None,
                  ) -> list[FollowOutput]:
    """Run the follower over every frame; enroll the person at ``enroll_box`` in ``enroll_frame``.

    Returns one output per frame (1-based frame i is element i-1). A box that no detection matches
    still enrolls (the target starts from the box); EnrollmentError is raised only when the
    enrollment frame is beyond the input or the box is outside the image or degenerate.
    """
    outputs: list[FollowOutput] = []
    for i, frame in enumerate(tqdm(frames, total=total, desc="follow", unit="frame", disable=not progress), 1):
        boxes, scores = detections(i, frame)
        out = follower.update(Observation(frame, boxes, scores, stamp=i / fps))
        if i == enroll_frame:
            ok, message = follower.enroll_box(enroll_box)
            if not ok:
                raise EnrollmentError(f"cannot enroll at frame {i}: {message}")
            out = follower.current_output()
        outputs.append(out)
        if on_frame is not None:
            on_frame(i, frame, out)
    if enroll_frame > len(outputs):
        raise EnrollmentError(f"enrollment frame {enroll_frame} is beyond the input ({len(outputs)} frames)")
    return outputs


def write_track_csv(path: str | Path, outputs: list[FollowOutput]) -> None:
    """``frame,x,y,w,h,score``: one row per frame (1-based), box fields empty when no target."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["frame", "x", "y", "w", "h", "score"])
        for i, out in enumerate(outputs, 1):
            if out.box is None:
                w.writerow([i, "", "", "", "", ""])
            else:
                x, y, bw, bh = xyxy_to_xywh(out.box)[0]
                w.writerow([i, f"{x:.1f}", f"{y:.1f}", f"{bw:.1f}", f"{bh:.1f}", f"{out.score:.3f}"])


def annotate(frame: np.ndarray, out: FollowOutput) -> np.ndarray:
    """The frame with every matched track (grey, with id) and the target (green, with its score)."""
    img = frame.copy()
    for tid, box in out.tracks:
        x1, y1, x2, y2 = (int(v) for v in box)
        cv2.rectangle(img, (x1, y1), (x2, y2), (160, 160, 160), 1)
        cv2.putText(img, str(tid), (x1 + 2, y1 + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (160, 160, 160), 1)
    if out.box is not None:
        x1, y1, x2, y2 = (int(v) for v in out.box)
        cv2.rectangle(img, (x1, y1), (x2, y2), (0, 220, 0), 3)
        cv2.putText(img, f"target {out.score:.2f}", (x1, max(12, y1 - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 220, 0), 1)
    cv2.putText(img, out.state, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 255), 2)
    return img
