"""Person detectors for the detector node and offline tools: ``detect(frame) -> (boxes, scores)``.

Boxes are (N, 4) float64 x1, y1, x2, y2 in the input frame's pixels; scores (N,) float64.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np
import torch  # imported here, not at the first detection: the import stalls ~2 s (a node's start-up)
from torchvision.ops import nms as tv_nms

from reid_follow.config import DetectorConfig


class Detector(Protocol):
    def detect(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


def build_detector(cfg: DetectorConfig) -> Detector:
    """The detector named by ``cfg.detector_model``: 'hog' or 'onnx:/path/model.onnx'."""
    cfg.validate()
    if cfg.detector_model == "hog":
        from reid_follow.detect.hog import HogPeopleDetector

        return HogPeopleDetector(cfg)
    from reid_follow.detect.yolox import YoloxOnnxDetector

    return YoloxOnnxDetector(cfg.detector_model.removeprefix("onnx:"), cfg)


def check_frame(frame: np.ndarray) -> None:
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        got = getattr(frame, "shape", type(frame).__name__), getattr(frame, "dtype", "")
        raise ValueError(f"detector input must be an HxWx3 uint8 BGR image, got {got}")
    if frame.shape[0] < 8 or frame.shape[1] < 8:
        raise ValueError(f"frame too small to detect people: {frame.shape[1]}x{frame.shape[0]}")


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> tuple[np.ndarray, np.ndarray]:
    """Non-maximum suppression with torchvision's implementation; returns kept boxes and scores."""
    if len(boxes) == 0:
        return boxes.reshape(0, 4), scores.reshape(0)
    keep = tv_nms(torch.from_numpy(boxes).float(), torch.from_numpy(scores).float(), iou).numpy()
    return boxes[keep], scores[keep]
