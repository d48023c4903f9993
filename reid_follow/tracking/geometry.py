"""Box geometry shared by the tracker, the follower and the evaluation (xyxy pixel boxes)."""
from __future__ import annotations

import numpy as np


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) intersection over union of two sets of xyxy boxes."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(1, -1, 4)
    inter = _intersection(a, b)
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def expand_boxes(boxes: np.ndarray, buffer: float | np.ndarray) -> np.ndarray:
    """xyxy boxes grown by ``buffer`` x their width / height on every side (scalar or one per box).

    The buffered IoU of C-BIoU (Yang et al. 2023): at a low frame rate a person moves so far between
    frames that the boxes no longer overlap, while the buffered ones still do, in proportion to the
    distance relative to the person's size.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    grow = np.asarray(buffer, dtype=np.float64).reshape(-1, 1) * np.tile(b[:, 2:] - b[:, :2], 2)
    return b + grow * np.array([-1.0, -1.0, 1.0, 1.0])


def coverage_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Fraction of each box of ``a`` covered by each box of ``b`` (occlusion proxy)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(1, -1, 4)
    return _intersection(a, b) / np.maximum(area(a), 1e-9)


def area(b: np.ndarray) -> np.ndarray:
    return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])


def _intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    return iw * ih


def inside_frame(boxes: np.ndarray, width: int, height: int, min_px: float = 2.0) -> np.ndarray:
    """Mask of boxes with at least ``min_px`` pixels inside the frame in each direction."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    c = np.clip(b, 0.0, [width, height, width, height])
    return np.isfinite(b).all(axis=1) & (c[:, 2] - c[:, 0] >= min_px) & (c[:, 3] - c[:, 1] >= min_px)
