"""Target position from a box: pinhole geometry, depth, REP-103 frames, smoothing."""
from __future__ import annotations

import numpy as np
import pytest

from reid_follow.config_base import ConfigError
from scipy.spatial.transform import Rotation

from reid_follow.pose import PoseConfig, PoseEstimator, box_depths, intrinsics

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
    assert box_depths(box, mm, cfg)[0] == pytest.approx(2.5)
    m = np.full((480, 640), np.nan, np.float32)
    m[150:250, 125:175] = 4.0
    assert box_depths(box, m, cfg)[0] == pytest.approx(4.0)
    assert np.isnan(box_depths(box, np.zeros((480, 640), np.float32), cfg)[0])
    assert box_depths(box, None) is None
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


def test_box_depths_is_batched_and_uses_the_box_core():
    """Several people at once; the background around a person (the box border) does not count."""
    depth = np.full((480, 640), 9000, np.uint16)          # a wall at 9 m
    depth[100:300, 125:175] = 2000                        # person A's body: the core of box A
    depth[200:400, 450:510] = 3500                        # person B, partly outside the image top
    depth[0:5, 0:5] = 60000                               # beyond depth_max_m: invalid, ignored
    boxes = np.array([[100.0, 100.0, 200.0, 300.0],      # core: x 125-175, y 150-250
                      [440.0, 150.0, 520.0, 450.0],      # core: x 460-500, y 225-375
                      [0.0, 0.0, 6.0, 6.0],              # core x,y 1-5: only invalid pixels
                      [600.0, 0.0, 700.0, 50.0]])        # clipped at the right border: wall
    got = box_depths(boxes, depth)
    assert got[:2] == pytest.approx([2.0, 3.5])
    assert np.isnan(got[2])
    assert got[3] == pytest.approx(9.0)
    assert np.isnan(box_depths(np.array([[0.0, 0.0, 4.0, 4.0]]), np.full((480, 640), 60000, np.uint16))[0])
    with pytest.raises(ValueError, match="2-D"):
        box_depths(boxes, np.zeros((4, 4, 3), np.float32))


def _x_axis(q: np.ndarray) -> np.ndarray:
    return Rotation.from_quat(q).apply([1.0, 0.0, 0.0])


def test_orientation_points_along_the_bearing_in_the_optical_frame():
    est = PoseEstimator(PoseConfig(smoothing=1.0))
    ahead = est.estimate(np.array([300.0, 100.0, 340.0, 260.0]), K)     # centred: straight ahead
    assert _x_axis(est.orientation(ahead)) == pytest.approx([0.0, 0.0, 1.0], abs=1e-9)  # optical z
    # z of the pose is "up", -y in the optical frame (y points down)
    assert Rotation.from_quat(est.orientation(ahead)).apply([0.0, 0.0, 1.0]) == pytest.approx([0, -1, 0], abs=1e-9)
    right = est.estimate(np.array([440.0, 160.0, 520.0, 320.0]), K)     # x = z / 2, and 45 px low
    x_axis = _x_axis(est.orientation(right))
    expected = np.array([right[0], 0.0, right[2]]) / np.hypot(right[0], right[2])  # horizontal bearing only
    assert x_axis == pytest.approx(expected, abs=1e-9)


def test_orientation_in_a_base_frame_is_a_yaw_from_the_camera():
    est = PoseEstimator(PoseConfig(smoothing=1.0, output_frame="base_link", person_height_m=1.6,
                                   base_from_camera=[0.3, 0.2, 1.2, -0.5, 0.5, -0.5, 0.5]))
    p = est.estimate(np.array([440.0, 160.0, 520.0, 320.0]), K)  # ahead and to the camera's right
    q = est.orientation(p)
    yaw = Rotation.from_quat(q).as_euler("ZYX")
    assert yaw[1:] == pytest.approx([0.0, 0.0], abs=1e-9)       # no pitch, no roll
    assert yaw[0] == pytest.approx(np.arctan2(p[1] - 0.2, p[0] - 0.3))  # from the camera, not base origin
    assert yaw[0] < 0                                            # right of the robot is -y
