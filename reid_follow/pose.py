"""Target position from a person box: bearing from the intrinsics, range from depth or box height.

The camera optical frame follows REP-103's ``_optical`` convention: x right, y down, z forward.
Without depth, range comes from the pinhole relation ``Z = fy * person_height / box_height_px``,
which is what a follower needs to keep a distance even from a plain RGB camera.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from reid_follow.config_base import ConfigError, param


@dataclass
class PoseConfig:
    person_height_m: float = param(1.7, "Assumed person height (m) for range from box height.", 0.3, 2.5)
    depth_core_fraction: float = param(
        0.5, "Central fraction of the box (width and height) whose depth pixels give the range.", 0.01, 1.0)
    depth_min_m: float = param(0.2, "Depth readings below this (m) are treated as invalid.", 0.0)
    depth_max_m: float = param(20.0, "Depth readings above this (m) are treated as invalid.", 0.0)
    smoothing: float = param(
        0.5, "Exponential smoothing weight of the newest position (1 = no smoothing; > 0).", 0.0, 1.0)
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
        if self.depth_min_m >= self.depth_max_m:
            raise ConfigError("pose.depth_min_m must be below pose.depth_max_m")
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


def box_depths(boxes: np.ndarray, depth: np.ndarray | None, cfg: PoseConfig | None = None) -> np.ndarray | None:
    """Median depth (m) over the valid pixels in the core of each box: NaN where none, None without depth.

    The one depth-median helper of the package: the pose's range and the 'nearest' enrollment
    rule must agree on how far a person is. Only the central ``cfg.depth_core_fraction`` of the
    box (width and height) counts, because a person box's border is mostly background; 16UC1
    (uint16) images are millimetres, float images metres; readings outside
    [depth_min_m, depth_max_m] (0 = no return, NaN) are invalid.
    """
    if depth is None:
        return None
    if depth.ndim != 2:
        raise ValueError(f"depth image must be 2-D, got shape {depth.shape}")
    cfg = cfg or PoseConfig()
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scale = 1e-3 if depth.dtype == np.uint16 else 1.0
    margin = (1 - cfg.depth_core_fraction) / 2
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    c0 = np.clip(np.floor(boxes[:, 0] + margin * w), 0, depth.shape[1]).astype(int)
    c1 = np.clip(np.ceil(boxes[:, 2] - margin * w), 0, depth.shape[1]).astype(int)
    r0 = np.clip(np.floor(boxes[:, 1] + margin * h), 0, depth.shape[0]).astype(int)
    r1 = np.clip(np.ceil(boxes[:, 3] - margin * h), 0, depth.shape[0]).astype(int)
    out = np.full(len(boxes), np.nan)
    for i in range(len(boxes)):
        core = depth[r0[i]:r1[i], c0[i]:c1[i]].astype(np.float64) * scale
        valid = core[np.isfinite(core) & (core >= cfg.depth_min_m) & (core <= cfg.depth_max_m)]
        if valid.size:
            out[i] = float(np.median(valid))
    return out


def bearing_orientation(point: np.ndarray, origin: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Quaternion (x, y, z, w) whose x axis points from ``origin`` (the camera) towards ``point``
    in the plane normal to ``up``, with z along ``up``: a heading a navigation goal can use.

    Only the horizontal bearing counts: a goal pitched towards a person's chest would tilt a
    ground robot's goal pose. Straight above or below the camera the heading is undefined and
    the frame's own orientation (identity) is returned.
    """
    up = np.asarray(up, dtype=np.float64) / np.linalg.norm(up)
    d = np.asarray(point, dtype=np.float64) - np.asarray(origin, dtype=np.float64)
    forward = d - (d @ up) * up
    norm = np.linalg.norm(forward)
    if norm < 1e-9:
        return np.array([0.0, 0.0, 0.0, 1.0])
    forward /= norm
    return Rotation.from_matrix(np.stack([forward, np.cross(up, forward), up], axis=1)).as_quat()


class PoseEstimator:
    """Box (+ depth) -> smoothed 3-D position in the optical frame or the configured base frame."""

    def __init__(self, cfg: PoseConfig) -> None:
        cfg.validate()
        self.cfg = cfg
        self._rot = Rotation.from_quat(cfg.base_from_camera[3:]).as_matrix()
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
        rng = box_depths(box, depth, self.cfg)[0] if depth is not None else math.nan
        if not math.isfinite(rng):
            rng = fy * self.cfg.person_height_m / (box[3] - box[1])
        u, v = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
        ray = np.array([(u - cx) / fx, (v - cy) / fy, 1.0])
        point = ray * rng  # range along the optical axis (z), as a depth camera reports it
        if self.cfg.output_frame:
            point = self._rot @ point + self._trans
        a = self.cfg.smoothing
        self._smoothed = point if self._smoothed is None else a * point + (1 - a) * self._smoothed
        return self._smoothed.copy()

    def orientation(self, position: np.ndarray) -> np.ndarray:
        """Quaternion (x, y, z, w) along the bearing from the camera to ``position`` (see
        bearing_orientation): up is -y in the optical frame, +z in a REP-103 base frame, where
        the camera sits at base_from_camera's translation."""
        if self.cfg.output_frame:
            return bearing_orientation(position, self._trans, np.array([0.0, 0.0, 1.0]))
        return bearing_orientation(position, np.zeros(3), np.array([0.0, -1.0, 0.0]))
