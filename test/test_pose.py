"""Target position from a box: pinhole geometry, depth, REP-103 frames, smoothing."""
from __future__ import annotations

import numpy as np
import pytest

from reid_follow.config_base import ConfigError
from reid_follow.pose import PoseConfig, PoseEstimator, depth_range, intrinsics

K = intrinsics(640, height=480, horizontal_fov_deg=90.0)  # fx = 320


def test_range_from_height_and_bearing():
    est = PoseEstimator(PoseConfig(smoothing=1.0, person_height_m=1.6))
    # A 160 px tall person centred 160 px right of the principal point: Z = 320*1.6/160 = 3.2 m
    x, y, z = est.estimate(np.array([440.0, 160.0, 520.0, 320.0]), K)
    assert z == pytest.approx(3.2)
    assert x == pytest.approx(3.2 * 160 / 320)  # right of the optical axis is +x in the optical frame
    assert y == pytest.approx(0.0)


def test_depth_image_units_and_invalid_pixels():
    cfg = PoseConfig()
    box = np.array([100.0, 100.0, 200.0, 300.0])
    mm = np.zeros((480, 640), np.uint16)
    mm[150:250, 125:175] = 2500
    mm[160:170, 130:140] = 0  # holes are ignored
    assert depth_range(mm, box, cfg) == pytest.approx(2.5)
    m = np.full((480, 640), np.nan, np.float32)
    m[150:250, 125:175] = 4.0
    assert depth_range(m, box, cfg) == pytest.approx(4.0)
    assert depth_range(np.zeros((480, 640), np.float32), box, cfg) is None
    est = PoseEstimator(PoseConfig(smoothing=1.0))
    assert est.estimate(box, K, depth=mm)[2] == pytest.approx(2.5)


def test_base_frame_is_rep103_body_frame():
    est = PoseEstimator(PoseConfig(smoothing=1.0, output_frame="base_link", person_height_m=1.6,
                                   base_from_camera=[0.1, 0.0, 1.2, -0.5, 0.5, -0.5, 0.5]))
    x, y, z = est.estimate(np.array([440.0, 160.0, 520.0, 320.0]), K)
    # optical (x right, y down, z forward) -> body (x forward, y left, z up), plus the camera offset
    assert x == pytest.approx(3.2 + 0.1) and y == pytest.approx(-1.6) and z == pytest.approx(1.2)
    assert est.frame_id("camera_optical_frame") == "base_link"


def test_smoothing_and_degenerate_boxes():
    est = PoseEstimator(PoseConfig(smoothing=0.5))
    a = est.estimate(np.array([300.0, 100.0, 340.0, 260.0]), K)
    b = est.estimate(np.array([300.0, 180.0, 340.0, 260.0]), K)  # half the height: twice as far
    assert b[2] == pytest.approx((a[2] + 2 * a[2]) / 2)
    assert est.estimate(np.array([1.0, 1.0, 1.0, 1.0]), K) is None
    assert est.estimate(np.array([np.nan, 1.0, 5.0, 9.0]), K) is None


def test_invalid_pose_config():
    with pytest.raises(ConfigError, match="quaternion"):
        PoseEstimator(PoseConfig(base_from_camera=[0, 0, 0, 1, 1, 0, 0]))
    with pytest.raises(ConfigError, match="smoothing"):
        PoseEstimator(PoseConfig(smoothing=0.0))
