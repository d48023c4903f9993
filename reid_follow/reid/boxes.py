"""Box checks shared by every embedder backend.

Policy (one place, so every backend behaves the same): detector boxes may stick out of the frame a
little, so a box that overlaps the frame is clipped to it; a box with non-finite coordinates, with
x2 <= x1 or y2 <= y1, or that does not overlap the frame by at least one pixel in each direction
raises ``ValueError`` naming the box — a zero row would silently look like "unknown person" to the
follower, which is worse than a loud error at the caller that produced the box.
"""
from __future__ import annotations

import numpy as np


def check_frame(frame_bgr: np.ndarray) -> np.ndarray:
    """The frame as a C-contiguous (H, W, 3) uint8 array, or ValueError saying what is wrong."""
    frame = np.asarray(frame_bgr)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame must be an (H, W, 3) BGR image, got shape {frame.shape}")
    if frame.dtype != np.uint8:
        raise ValueError(f"frame must be uint8, got {frame.dtype}")
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise ValueError(f"frame is empty: shape {frame.shape}")
    return np.ascontiguousarray(frame)


def clip_boxes(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, 4) float32 xyxy boxes clipped to a ``height`` x ``width`` frame (see module policy)."""
    b = np.asarray(boxes, dtype=np.float64)
    if b.size == 0:
        return np.zeros((0, 4), dtype=np.float32)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4) as x1, y1, x2, y2 pixels, got {b.shape}")
    bad = ~np.isfinite(b).all(axis=1)
    if bad.any():
        raise ValueError(f"box {int(np.flatnonzero(bad)[0])} has non-finite coordinates: {b[bad][0].tolist()}")
    bad = (b[:, 2] <= b[:, 0]) | (b[:, 3] <= b[:, 1])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"box {i} is degenerate (needs x2 > x1 and y2 > y1): {b[i].tolist()}")
    clipped = np.clip(b, 0.0, [width, height, width, height])
    bad = (clipped[:, 2] - clipped[:, 0] < 1.0) | (clipped[:, 3] - clipped[:, 1] < 1.0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"box {i} {b[i].tolist()} lies outside the {width}x{height} frame "
                         "(less than one pixel inside)")
    return clipped.astype(np.float32)
