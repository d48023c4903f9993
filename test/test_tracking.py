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
from reid_follow.tracking.score import Stress, identity_score, track_gt
from reid_follow.tracking.tracker import CONFIRMED, LOST, TENTATIVE, MultiTracker, TrackStatus
from reid_follow.video import FrameSource


def test_kalman_learns_constant_velocity() -> None:
    kf = KalmanBoxFilter(1.0 / 20, 1.0 / 160)
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
    gmc = CameraMotion(height=160)
    gmc.estimate(frame, np.zeros((0, 4)))
    warp = gmc.estimate(moved, np.zeros((0, 4)))
    assert warp[:, 2] == pytest.approx([14, -6], abs=1.5)
    means = np.array([[100.0, 200, 0.4, 80, 1, 0, 0, 0]])
    warped, _ = warp_states(means, np.eye(8)[None], warp)
    assert warped[0, :2] == pytest.approx([114, 194], abs=1.5)
    small = cv2.resize(moved, (320, 240))                       # size change: no stale flow, identity
    assert np.allclose(gmc.estimate(small, np.zeros((0, 4)))[:, :2], np.eye(2))



def test_a_tracked_person_the_detector_misses_does_not_move_the_camera(mot16_05, pathtrack) -> None:
    """A large textured person (a PathTrack crop) walks 8 px over a still MOT16-05 frame with no
    detection (a target enrolled from a box): its track masks it out of the camera-motion
    estimate, which stays still; unmasked, the estimate follows the person."""
    background = cv2.GaussianBlur(cv2.imread(str(mot16_05 / "img1" / "000001.jpg")), (0, 0), 1)
    person = cv2.imread(str(pathtrack / "img1" / "000001.jpg"))[100:500, 300:620]

    def scene(dx: int) -> tuple[np.ndarray, np.ndarray]:
        f = background.copy()
        f[40:440, 100 + dx:420 + dx] = person
        return f, np.array([100.0 + dx, 40, 420 + dx, 440])

    (f0, box0), (f1, _) = scene(0), scene(8)
    shifts = {}
    for tracked in (True, False):
        tracker = MultiTracker(TrackerConfig())
        if tracked:
            tracker.start_track(box0, None)
        tracker.update(np.zeros((0, 4)), f0)
        tracker.update(np.zeros((0, 4)), f1)
        shifts[tracked] = float(np.abs(tracker.last_warp[:, 2]).max())
    assert shifts[True] < 1.0 and shifts[False] > 4.0, shifts


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


# SORT-like association as it was before the low-frame-rate work: plain IoU, velocity noise 1/160.
IOU_ONLY = {"iou_buffer": 0.0, "velocity_noise": 1 / 160}


@pytest.mark.parametrize("overrides,holds", [({}, True), (IOU_ONLY, False)])
def test_identities_hold_at_a_quarter_of_the_frame_rate(pathtrack, overrides, holds) -> None:
    """PathTrack (hand-held, 25 fps) at 6 fps, 20 % of the gt boxes dropped, 5 % jitter, motion only.

    Buffered IoU and a walker-sized velocity noise keep id switches near 50 (IDF1 0.73); plain IoU
    gating loses people who moved a quarter of their width (82 switches): the bound separates them.
    """
    matches, gt_boxes = track_gt(pathtrack, Stress(every=4, seed=0), TrackerConfig(**overrides))
    score = identity_score(matches, gt_boxes)
    assert score.matched > 0.7 * gt_boxes
    assert (score.id_switches <= 65) == holds, score
    assert (score.idf1 >= 0.70) == holds, score


def _person(seq, gid: int):
    """Per frame (1-based): all gt boxes (xyxy) and the row index of person ``gid`` (-1 if absent)."""
    gt = pedestrians(read_mot(seq / "gt" / "gt.txt"))
    frames = []
    for i in range(1, int(gt.frame.max()) + 1):
        r = gt.frame == i
        ids = gt.ids[r]
        frames.append((xywh_to_xyxy(gt.xywh[r]), int(np.flatnonzero(ids == gid)[0]) if gid in ids else -1))
    return frames


def test_weak_detection_keeps_the_track_alive(mot16_05) -> None:
    """A person's detection drops to a low score for 6 frames (occlusion): the second stage keeps
    the same track on it; with the weak boxes below low_score the track is lost instead. A weak box
    where no track is starts one only when asked (start_weak, the follower's search)."""
    frames = _person(mot16_05, 1)
    runs = {}
    for weak in (0.3, 0.05):
        tracker = MultiTracker(TrackerConfig(gmc=False))
        ids = []
        for k, (boxes, row) in enumerate(frames[:16]):
            box = boxes[row][None]
            score = np.array([1.0 if k < 6 or k >= 12 else weak])
            tracks = tracker.update(box, scores=score)
            ids.append([t.track_id for t in tracks if t.detection == 0])
        runs[weak] = ids
    assert all(ids == [1] for ids in runs[0.3][1:])                   # one track all along
    assert all(ids == [] for ids in runs[0.05][6:12])                 # ignored: no match
    tracker = MultiTracker(TrackerConfig(gmc=False, min_hits=1))
    assert tracker.update(frames[0][0][:1], scores=np.array([0.3])) == []
    assert tracker.update(frames[0][0][:1], scores=np.array([0.05]), start_weak=True) == []   # below low_score
    (w,) = MultiTracker(TrackerConfig(gmc=False)).update(frames[0][0][:1], scores=np.array([0.3]), start_weak=True)
    assert w.detection == 0 and w.status == TENTATIVE
    (t,) = tracker.update(frames[0][0][:1], scores=np.array([0.9]))
    (t,) = tracker.update(frames[1][0][:1] + 1.0, scores=np.array([0.3]))
    assert t.detection == 0 and t.score == pytest.approx(0.3) and t.status == CONFIRMED
    with pytest.raises(ValueError):
        tracker.update(frames[0][0][:2], scores=np.array([0.9]))


@pytest.mark.parametrize("appearance", [False, True])
@pytest.mark.parametrize("seen_before", [False, True])
def test_started_track_locks_onto_the_detection(mot16_05, appearance, seen_before) -> None:
    """Enrollment from a user's loose box on frame 4, where the person's detection is missing: the
    track takes the person's detection in the following frames and no duplicate track appears.
    Never detected before, it is a new track; tracked until frame 3, it is that person's track."""
    embedder = build_embedder("default") if appearance else None
    gt = pedestrians(read_mot(mot16_05 / "gt" / "gt.txt"))
    target_gid = 1                       # the nearest person, walking beside the camera
    tracker = MultiTracker(TrackerConfig())
    images = list(FrameSource(mot16_05))[:14]
    started, taken, earlier = None, [], set()
    for i, frame in enumerate(images, 1):
        r = (gt.frame == i) & (gt.visibility >= 0.5)
        boxes, gids = xywh_to_xyxy(gt.xywh[r]), gt.ids[r]
        if i < 4 and not seen_before:
            boxes, gids = boxes[gids != target_gid], gids[gids != target_gid]
        if i < 4:
            earlier |= {t.track_id for t in tracker.update(boxes, frame) if t.detection >= 0
                        and gids[t.detection] == target_gid}
            continue
        if i == 4:
            keep = gids != target_gid
            x1, y1, x2, y2 = boxes[~keep][0]
            w, h = x2 - x1, y2 - y1
            loose = np.array([x1 - 0.1 * w, y1 - 0.08 * h, x2 + 0.15 * w, y2 + 0.05 * h])
            tracker.update(boxes[keep], frame)
            embedding = embedder.embed(frame, loose[None])[0] if embedder else None
            started = tracker.start_track(loose, embedding)
            assert started.status == CONFIRMED and started.detection == -1
            assert (started.track_id in earlier) == seen_before and len(earlier) == int(seen_before)
            assert tracker.get(started.track_id) is started
            continue
        embed = (lambda idx, f=frame, b=boxes: embedder.embed(f, b[idx])) if embedder else None
        tracks = tracker.update(boxes, frame, embed)
        if started is not None:
            t = tracker.get(started.track_id)
            assert t is not None
            taken.append(int(gids[t.detection]) if t.detection >= 0 else -1)
            assert sum(1 for o in tracks if o.detection >= 0 and gids[o.detection] == target_gid) == 1
    assert taken and all(g == target_gid for g in taken), taken


def test_image_resize_rescales_tracks(mot16_05) -> None:
    """A new image size (a driver switching resolution) is the same view in other pixels: tracks
    follow it instead of seeing a jump (which would also leave them a huge velocity)."""
    frame = cv2.imread(str(mot16_05 / "img1" / "000001.jpg"))
    tracker = MultiTracker(TrackerConfig(min_hits=1))
    box = np.array([[100.0, 100, 160, 260]])
    for _ in range(3):
        (t,) = tracker.update(box, frame)
    small = np.ascontiguousarray(frame[::2, ::2])
    (t,) = tracker.update(box / 2, small)
    assert t.track_id == 1 and t.match_iou > 0.95
    assert tracker.update(np.zeros((0, 4)), small)[0].box == pytest.approx(box[0] / 2, abs=1.0)


def test_track_status_is_a_str_enum() -> None:
    assert TENTATIVE == "tentative" and TrackStatus("lost") is LOST and isinstance(CONFIRMED, str)


def test_identity_score_counts_switches_and_one_to_one_idf1() -> None:
    # person 1 on track 10, then 11 (one switch); person 2 on track 11 first: 11 goes to one person
    matches = [(0, 1, 10), (1, 1, 10), (2, 1, 11), (0, 2, 11), (1, 2, 11), (2, 2, 11)]
    score = identity_score(matches, gt_boxes=8)
    assert score.id_switches == 1 and score.matched == 6
    assert score.idf1 == pytest.approx(2 * 5 / (8 + 6))
    assert identity_score([], 0).idf1 == 0.0


def test_a_partial_detection_keeps_the_track(shared_data) -> None:
    """OTB-Crossing's walker (real gt boxes, small and far): in frame 3 the detector sees only the
    upper half of them (legs hidden). It overlaps the prediction, so it is the same track,
    although its changed shape lies outside the Mahalanobis gate. (The full box of the next frame
    then starts a new track: the filter trusts the half box too much; see docs/follow.md.)"""
    gt = read_mot(shared_data / "OTB-Crossing" / "gt" / "gt.txt")
    boxes = xywh_to_xyxy(gt.xywh[np.argsort(gt.frame)][:3])
    tracker = MultiTracker(TrackerConfig(gmc=False, min_hits=1))
    ids = []
    for k, box in enumerate(boxes):
        if k == 2:
            box = box.copy()
            box[3] = box[1] + 0.5 * (box[3] - box[1])
            means = np.stack([t.mean for t in tracker.tracks])
            covs = np.stack([t.cov for t in tracker.tracks])
            predicted, pcov = tracker.kf.predict(means, covs)
            assert tracker.kf.gating_distance(predicted, pcov, box[None])[0, 0] > tracker.cfg.gate_chi2
        (track,) = [t for t in tracker.update(box[None]) if t.detection == 0]
        ids.append(track.track_id)
    assert ids == [ids[0]] * len(boxes), ids


def test_kalman_bounds_the_predicted_change_of_shape() -> None:
    """One partial detection (a 49 px person seen 32 px tall) must not make the predictions shrink
    the box to nothing a few frames later: height and aspect change per predicted frame are bounded."""
    kf = KalmanBoxFilter(0.05, 0.0125)
    box = np.array([205.0, 151.0, 222.0, 201.0])
    mean, cov = kf.initiate(box)
    for _ in range(3):
        m, c = kf.predict(mean[None], cov[None])
        mean, cov = kf.update(m[0], c[0], box)
    m, c = kf.predict(mean[None], cov[None])
    mean, cov = kf.update(m[0], c[0], np.array([205.0, 151.0, 222.0, 183.0]))
    heights = []
    for _ in range(3):
        m, c = kf.predict(mean[None], cov[None])
        heights.append(m[0, 3])
        assert abs(m[0, 7]) <= 0.05 * mean[3] + 1e-9 and abs(m[0, 6]) <= 0.02 + 1e-9
        mean, cov = m[0], c[0]
    assert heights[-1] >= 0.8 * heights[0] > 20.0, heights


def test_a_lost_track_never_takes_a_detection_out_of_its_reach(mot16_05) -> None:
    """A track unseen for 3 frames, its gate grown wide, and a detection with the very same
    appearance (the person's own crop) whose box lies beyond the track's reach (its box grown by
    iou_buffer x 4 frames): they are not matched, however alike they look; in reach they are."""
    frame = cv2.imread(str(mot16_05 / "img1" / "000001.jpg"))
    gt = pedestrians(read_mot(mot16_05 / "gt" / "gt.txt"))
    box = xywh_to_xyxy(gt.xywh[(gt.frame == 1) & (gt.ids == 1)])[0]
    emb = build_embedder("default").embed(frame, box[None])
    tracker = MultiTracker(TrackerConfig(gmc=False, min_hits=1))
    (track,) = tracker.update(box[None], embed=lambda idx: emb[idx])
    track.cov = track.cov * 400.0                     # long unseen: the Mahalanobis gate covers the frame
    track.time_since_update = 3
    width = box[2] - box[0]
    reach = 1.0 + tracker.cfg.iou_buffer * (1 + track.time_since_update)   # in widths, centre to centre
    predicted = xyah_to_xyxy(track.mean[None, :4])
    for shift, feasible in ((1.1 * reach * width, False), (0.9 * width, True)):
        det = (predicted[0] + [shift, 0, shift, 0])[None]
        assert tracker.kf.gating_distance(track.mean[None], track.cov[None], det)[0, 0] <= tracker.cfg.gate_chi2
        cost = tracker.cost_matrix(predicted, det, [emb[0]])
        assert (cost[0, 0] <= tracker.cfg.max_cost) == feasible, (shift, cost)
