"""Tracker core on real footage: Kalman motion, camera-motion compensation, identity-keeping association."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from reid_follow.follow.evaluate import pedestrians
from reid_follow.mot import read_mot, xywh_to_xyxy
from reid_follow.reid import build_embedder
from reid_follow.tracking.config import TrackerConfig
from reid_follow.tracking.geometry import iou_matrix
from reid_follow.tracking.gmc import CameraMotion, warp_states
from reid_follow.tracking.kalman import KalmanBoxFilter, xyah_to_xyxy, xyxy_to_xyah
from reid_follow.tracking.tracker import CONFIRMED, LOST, MultiTracker
from reid_follow.video import FrameSource


def test_kalman_learns_constant_velocity() -> None:
    kf = KalmanBoxFilter()
    box = np.array([100.0, 50.0, 140.0, 150.0])
    mean, cov = kf.initiate(box)
    for step in range(1, 15):
        m, c = kf.predict(mean[None], cov[None])
        mean, cov = kf.update(m[0], c[0], box + [6.0 * step, 0, 6.0 * step, 0])
    predicted, _ = kf.predict(mean[None], cov[None])
    assert predicted[0, 4] == pytest.approx(6.0, abs=0.5)           # learned vx
    assert xyah_to_xyxy(predicted[:, :4])[0] == pytest.approx(box + [90, 0, 90, 0], abs=2.0)
    far = kf.gating_distance(mean[None], cov[None], np.array([box + [400, 0, 400, 0]]))
    assert far[0, 0] > 100 and np.allclose(xyah_to_xyxy(xyxy_to_xyah(box)), box)


def test_camera_motion_recovers_a_known_shift(mot16_05) -> None:
    frame = cv2.imread(str(mot16_05 / "img1" / "000010.jpg"))
    shift = np.float32([[1, 0, 14], [0, 1, -6]])
    moved = cv2.warpAffine(frame, shift, (frame.shape[1], frame.shape[0]), borderMode=cv2.BORDER_REFLECT)
    gmc = CameraMotion(downscale=2)
    gmc.estimate(frame, np.zeros((0, 4)))
    warp = gmc.estimate(moved, np.zeros((0, 4)))
    assert warp[:, 2] == pytest.approx([14, -6], abs=1.5)
    means = np.array([[100.0, 200, 0.4, 80, 1, 0, 0, 0]])
    warped, _ = warp_states(means, np.eye(8)[None], warp)
    assert warped[0, :2] == pytest.approx([114, 194], abs=1.5)
    small = cv2.resize(moved, (320, 240))                       # size change: no stale flow, identity
    assert np.allclose(gmc.estimate(small, np.zeros((0, 4)))[:, :2], np.eye(2))


def _gt_run(seq, embedder=None, every: int = 1):
    """Track MOT16-05 gt boxes (visibility >= 0.5); per frame the (gt id, track id) pairs."""
    gt = pedestrians(read_mot(seq / "gt" / "gt.txt"))
    tracker = MultiTracker(TrackerConfig())
    pairs = []
    for i, frame in enumerate(FrameSource(seq), 1):
        r = (gt.frame == i) & (gt.visibility >= 0.5)
        boxes = xywh_to_xyxy(gt.xywh[r])
        embed = (lambda idx, f=frame, b=boxes: embedder.embed(f, b[idx])) if embedder else None
        tracks = tracker.update(boxes, frame, embed)
        pairs += [(int(gt.ids[r][t.detection]), t.track_id) for t in tracks if t.detection >= 0]
    return pairs, tracker


@pytest.mark.parametrize("appearance,max_switches", [(False, 5), (True, 1)])
def test_tracker_keeps_identities_on_moving_camera(mot16_05, appearance, max_switches) -> None:
    pairs, tracker = _gt_run(mot16_05, build_embedder("default") if appearance else None)
    switches = 0
    for gid in {g for g, _ in pairs}:
        ids = [t for g, t in pairs if g == gid]
        switches += sum(a != b for a, b in zip(ids, ids[1:]))
    assert len(pairs) > 150
    assert switches <= max_switches, f"{switches} identity switches"
    assert all(t.status in (CONFIRMED, LOST, "tentative") for t in tracker.tracks)


def test_tracker_edge_cases() -> None:
    tracker = MultiTracker(TrackerConfig(gmc=False, min_hits=2, max_age=2))
    assert tracker.update(np.zeros((0, 4))) == []
    box = np.array([[10.0, 10, 50, 110]])
    (t,) = tracker.update(box)
    assert t.status == "tentative" and t.detection == 0
    tracker.update(box + 2)
    assert tracker.tracks[0].status == CONFIRMED
    for _ in range(2):
        tracker.update(np.zeros((0, 4)))
        assert tracker.tracks[0].status == LOST
    tracker.update(np.zeros((0, 4)))
    assert tracker.tracks == []                                     # older than max_age: dropped
    dup = tracker.update(np.array([[10.0, 10, 50, 110], [10.0, 10, 50, 110]]))
    assert len({t.track_id for t in dup}) == 2                      # duplicate boxes: two tracks, no crash
    assert iou_matrix(box, box)[0, 0] == pytest.approx(1.0)
