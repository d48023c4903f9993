"""Target position from a person box: bearing from the intrinsics, range from depth or box height.

The camera optical frame follows REP-103's ``_optical`` convention: x right, y down, z forward.
Without depth, range comes from the pinhole relation ``Z = fy * person_height / box_height_px``,
which is what a follower needs to keep a distance even from a plain RGB camera.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reid_follow.config_base import ConfigError, param


@dataclass
class PoseConfig:
    person_height_m: float = param(1.7, "Assumed person height (m) for range from box height.")
    depth_core_fraction: float = param(
        0.5, "Central fraction of the box (width and height) whose depth pixels give the range.")
    depth_min_m: float = param(0.2, "Depth readings below this (m) are treated as invalid.")
    depth_max_m: float = param(20.0, "Depth readings above this (m) are treated as invalid.")
    smoothing: float = param(
        0.5, "Exponential smoothing weight of the newest position (1 = no smoothing).")
    output_frame: str = param(
        "", "frame_id of target_pose. Empty: the image's optical frame; otherwise a base frame "
            "reached through base_from_camera.")
    base_from_camera: list[float] = param(
        [0.0, 0.0, 0.0, -0.5, 0.5, -0.5, 0.5],
        "Static extrinsic x y z qx qy qz qw taking optical-frame points into output_frame "
        "(default: the standard optical->body rotation, camera at the origin).")

    def validate(self) -> None:
        if self.person_height_m <= 0:
            raise ConfigError("pose.person_height_m must be > 0")
        if not 0 < self.smoothing <= 1:
            raise ConfigError("pose.smoothing must be in (0, 1]")
        if not 0 < self.depth_core_fraction <= 1:
            raise ConfigError("pose.depth_core_fraction must be in (0, 1]")
        if len(self.base_from_camera) != 7:
            raise ConfigError("pose.base_from_camera must have 7 numbers: x y z qx qy qz qw")
        if not math.isclose(float(np.linalg.norm(self.base_from_camera[3:])), 1.0, abs_tol=1e-3):
            raise ConfigError("pose.base_from_camera quaternion must have unit norm")


def intrinsics(width: int, fx: float = 0.0, fy: float = 0.0, cx: float = 0.0, cy: float = 0.0,
               height: int = 0, horizontal_fov_deg: float = 60.0) -> np.ndarray:
    """A 3x3 camera matrix from parameters, filling zeros from the image size and field of view."""
    if fx <= 0:
        fx = (width / 2.0) / math.tan(math.radians(horizontal_fov_deg) / 2.0)
    return np.array([[fx, 0.0, cx or width / 2.0], [0.0, fy or fx, cy or height / 2.0], [0, 0, 1.0]])


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    x, y, z, w = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def depth_range(depth: np.ndarray, box: np.ndarray, cfg: PoseConfig) -> float | None:
    """Median depth (m) over valid pixels in the box core; 16UC1 is millimetres, float is metres."""
    if depth.ndim != 2:
        raise ValueError(f"depth image must be 2-D, got shape {depth.shape}")
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    m = (1 - cfg.depth_core_fraction) / 2
    c0, c1 = int(max(0, x1 + m * w)), int(min(depth.shape[1], math.ceil(x2 - m * w)))
    r0, r1 = int(max(0, y1 + m * h)), int(min(depth.shape[0], math.ceil(y2 - m * h)))
    if c1 <= c0 or r1 <= r0:
        return None
    core = depth[r0:r1, c0:c1].astype(np.float64)
    if depth.dtype == np.uint16:
        core = core / 1000.0
    valid = core[np.isfinite(core) & (core >= cfg.depth_min_m) & (core <= cfg.depth_max_m)]
    return float(np.median(valid)) if valid.size else None


class PoseEstimator:
    """Box (+ depth) -> smoothed 3-D position in the optical frame or the configured base frame."""

    def __init__(self, cfg: PoseConfig) -> None:
        cfg.validate()
        self.cfg = cfg
        self._rot = quat_to_matrix(np.asarray(cfg.base_from_camera[3:], dtype=np.float64))
        self._trans = np.asarray(cfg.base_from_camera[:3], dtype=np.float64)
        self._smoothed: np.ndarray | None = None

    def reset(self) -> None:
        self._smoothed = None

    def frame_id(self, image_frame_id: str) -> str:
        return self.cfg.output_frame or image_frame_id

    def estimate(self, box: np.ndarray, camera_matrix: np.ndarray,
                 depth: np.ndarray | None = None) -> np.ndarray | None:
        """Position (x, y, z) of the person's centre, or None when the box is degenerate."""
        box = np.asarray(box, dtype=np.float64)
        if box.shape != (4,) or not np.all(np.isfinite(box)) or box[3] - box[1] < 1 or box[2] - box[0] < 1:
            return None
        fx, fy, cx, cy = camera_matrix[0, 0], camera_matrix[1, 1], camera_matrix[0, 2], camera_matrix[1, 2]
        rng = depth_range(depth, box, self.cfg) if depth is not None else None
        if rng is None:
            rng = fy * self.cfg.person_height_m / (box[3] - box[1])
        u, v = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
        ray = np.array([(u - cx) / fx, (v - cy) / fy, 1.0])
        point = ray * rng  # range along the optical axis (z), as a depth camera reports it
        if self.cfg.output_frame:
            point = self._rot @ point + self._trans
        a = self.cfg.smoothing
        self._smoothed = point if self._smoothed is None else a * point + (1 - a) * self._smoothed
        return self._smoothed.copy()
