"""The following core (TargetFollower) on real footage: enrollment, state machine, re-acquisition."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from reid_follow.config_base import ConfigError
from reid_follow.follow.config import FollowConfig
from reid_follow.follow.evaluate import Condition, build_scenario, load_sequence, run_follower, score_run
from reid_follow.follow.follower import TargetFollower
from reid_follow.follow.offline import follow_frames, mot_detections
from reid_follow.follow.target import TargetModel
from reid_follow.follow.types import STATES, FollowOutput, Observation, State
from reid_follow.reid import build_embedder
from reid_follow.tracking.config import TrackerConfig
from reid_follow.tracking.geometry import iou_matrix
from reid_follow.video import FrameSource


@pytest.fixture(scope="module")
def frames(mot16_05):
    return list(FrameSource(mot16_05))


@pytest.fixture(scope="module")
def hidden_target(mot16_05, frames, tmp_path_factory):
    """Person 4 of MOT16-05 (gt boxes as detections): occluded by others, plus hidden for frames 16-25."""
    seq = load_sequence(mot16_05, "gt", "", tmp_path_factory.mktemp("dets"))
    return build_scenario(seq, 4, Condition.ABSENCE, absence_frames=10, absence_at=16)


def _run(sc, frames, embedder, cfg=None, log=None):
    follower = TargetFollower(cfg or FollowConfig(), embedder)
    on_frame = (lambda i, f, out: log.append(out)) if log is not None else None
    outs = follow_frames(follower, frames, mot_detections(sc.detections), sc.enroll_frame, sc.enroll_box,
                         progress=False, on_frame=on_frame)
    return follower, outs, score_run(sc, outs)


def test_reacquires_the_target_and_beats_motion_only(hidden_target, frames) -> None:
    sc = hidden_target
    assert sc.hidden[1] > sc.hidden[0] and not sc.present[sc.hidden[0] - 1: sc.hidden[1]].any()
    cfg = FollowConfig()
    _, outs, m = _run(sc, frames, build_embedder("default"), cfg)
    _, _, motion = _run(sc, frames, None)
    assert m["success"] >= 0.9 and m["wrong_frames"] == 0
    assert m["reacquired"] == m["reappearances"] >= 1
    assert motion["success"] < m["success"] - 0.15            # motion only cannot come back
    states = [o.state for o in outs]
    assert set(states) <= set(STATES) and all(isinstance(s, State) for s in states)
    for want in (State.IDLE, State.ENROLLING, State.TRACKING, State.OCCLUDED):
        assert want in states
    assert all(o.box is None for o in outs if o.state in (State.IDLE, State.OCCLUDED, State.LOST))
    # Absence is an answer: after at most coast_frames predicted boxes, nothing while hidden.
    hidden = outs[sc.hidden[0] - 1: sc.hidden[1]]
    assert all(o.box is None or o.predicted for o in hidden[:cfg.coast_frames])
    assert all(o.box is None for o in hidden[cfg.coast_frames:])
    assert sum(o.predicted for o in outs) == m["predicted_frames"] >= 1
    scored = [o for o in outs if o.state == State.TRACKING and o.box is not None and not o.predicted]
    scored = [o.scores[o.track_id] for o in scored if o.track_id in o.scores]
    assert len(scored) >= 10 and min(scored) >= cfg.reject_threshold


def test_coasting_is_capped_in_time_at_a_low_frame_rate(hidden_target, frames) -> None:
    """The same frames stamped at 3.5 fps (one frame = 0.29 s > coast_max_s): when the target is
    hidden no predicted box is reported at all; allowed 1 s, the coasting of the 14 fps run is back."""
    sc = hidden_target
    hidden = slice(sc.hidden[0] - 1, sc.hidden[1])
    predicted = {}
    for limit in (FollowConfig().coast_max_s, 1.0):
        follower = TargetFollower(FollowConfig(coast_max_s=limit), build_embedder("default"))
        outs = follow_frames(follower, frames, mot_detections(sc.detections), sc.enroll_frame, sc.enroll_box,
                             fps=3.5, progress=False)
        predicted[limit] = sum(o.predicted for o in outs[hidden])
        assert all(o.box is None or o.predicted for o in outs[hidden])
    assert predicted[FollowConfig().coast_max_s] == 0 and predicted[1.0] >= 1, predicted


def _first_box_after(outs: list[FollowOutput], frame: int) -> int:
    return next(i for i, o in enumerate(outs, 1) if i > frame and o.box is not None)


def test_reacquisition_needs_consecutive_confirmations(hidden_target, frames) -> None:
    """The target's track dies in the hiding (max_age 3): a new track must re-qualify, and each
    confirmation asked for delays the first report by one frame, with no box before it."""
    sc = hidden_target
    first = {}
    for n in (1, 4):
        cfg = FollowConfig(reacquire_confirmations=n, tracking=TrackerConfig(max_age=3))
        follower, outs, m = _run(sc, frames, build_embedder("default"), cfg)
        assert m["wrong_frames"] == 0 and m["reacquired"] == m["reappearances"] >= 1
        first[n] = _first_box_after(outs, sc.hidden[1])
    assert first[4] == first[1] + 3, first


def test_another_track_becomes_the_target_only_on_a_supported_calibration(hidden_target, frames) -> None:
    """The target's track dies in the hiding (max_age 3), so its return is another track: adopted
    with the default reacquire_min_samples, never while the gallery is smaller than asked for."""
    reacquired = {}
    for n in (FollowConfig().reacquire_min_samples, 1000):
        cfg = FollowConfig(reacquire_min_samples=n, tracking=TrackerConfig(max_age=3))
        follower, outs, m = _run(hidden_target, frames, build_embedder("default"), cfg)
        assert m["wrong_frames"] == 0
        reacquired[n] = m["reacquired"]
    assert reacquired[FollowConfig().reacquire_min_samples] >= 1 and reacquired[1000] == 0, reacquired


def test_one_missed_frame_delays_a_confirmation_without_restarting_it(hidden_target, frames) -> None:
    """The returning person's detection is missing in the last frame of their confirmation: with
    reacquire_unseen_frames 1 (or reacquire_lapses 1) that frame only does not count (the report
    comes one frame later); with both 0 the streak starts again and the report comes later (or not
    at all in this clip)."""
    sc = hidden_target
    det = mot_detections(sc.detections)

    def first_report(lapses: int, unseen: int, drop: int | None = None) -> int:
        def detections(i: int, img: np.ndarray):
            boxes, scores = det(i, img)
            if i == drop:
                keep = iou_matrix(sc.target_boxes[i - 1], boxes)[0] < 0.9
                boxes, scores = boxes[keep], scores[keep]
            return boxes, scores
        cfg = FollowConfig(reacquire_lapses=lapses, reacquire_unseen_frames=unseen,
                           tracking=TrackerConfig(max_age=3))
        outs = follow_frames(TargetFollower(cfg, build_embedder("default")), frames, detections, sc.enroll_frame,
                             sc.enroll_box, progress=False)
        assert score_run(sc, outs)["wrong_frames"] == 0
        return next((i for i, o in enumerate(outs, 1) if i > sc.hidden[1] and o.box is not None), len(outs) + 1)

    undisturbed = first_report(0, 0)
    assert first_report(1, 1) == undisturbed
    drop = undisturbed - 1                                      # the last frame before the report
    assert first_report(0, 1, drop) == undisturbed + 1
    assert first_report(1, 0, drop) == undisturbed + 1
    assert first_report(0, 0, drop) > undisturbed + 1


def test_a_target_returning_with_weak_flickering_detections_is_reacquired(mot16_05, frames, tmp_path) -> None:
    """MOT16-05's own DPM detections: person 14 comes back after 16 frames out of view with
    detections scoring 0.38-0.49 (below tracking.high_score, so they start no track) in every
    other frame. Searching, the follower lets them start tracks (search_weak_detections) and
    carries the confirmation across the frames without a detection, where the candidate's
    tentative track dies and a new one starts (reacquire_unseen_frames): re-acquired, no wrong
    frame. Without either it is never found."""
    seq = load_sequence(mot16_05, "det.txt", "", tmp_path)
    sc = build_scenario(seq, 14, Condition.BASE)
    got = {}
    for weak, unseen in ((True, 1), (False, 1), (True, 0)):
        cfg = FollowConfig(search_weak_detections=weak, reacquire_unseen_frames=unseen)
        _, _, m = _run(sc, frames, build_embedder("default"), cfg)
        assert m["wrong_frames"] == 0 and m["reappearances"] == 1
        got[weak, unseen] = m["reacquired"]
    assert got == {(True, 1): 1, (False, 1): 0, (True, 0): 0}, got


def _paste(frame: np.ndarray, crop: np.ndarray, box: np.ndarray) -> np.ndarray:
    """``frame`` with ``crop`` resized into ``box`` (xyxy, inside the frame)."""
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    out = frame.copy()
    out[y1:y2, x1:x2] = cv2.resize(crop, (x2 - x1, y2 - y1), interpolation=cv2.INTER_AREA)
    return out


@pytest.fixture(scope="module")
def lookalike(pathtrack, frames, hidden_target):
    """A never-seen person from other footage (PathTrack) who looks most like the target to the
    default embedder: the crop most similar to the target's enrollment crop."""
    from reid_follow.follow.evaluate import pedestrians
    from reid_follow.mot import read_mot, xywh_to_xyxy

    sc = hidden_target
    embedder = build_embedder("default")
    target = embedder.embed(frames[sc.enroll_frame - 1], sc.enroll_box[None])[0]
    gt = pedestrians(read_mot(pathtrack / "gt" / "gt.txt"))
    best = (-1.0, None)
    for f in range(1, 200, 10):
        img = cv2.imread(str(pathtrack / "img1" / f"{f:06d}.jpg"))
        r = (gt.frame == f) & (gt.xywh[:, 3] >= 120)
        boxes = np.clip(xywh_to_xyxy(gt.xywh[r]), 0, [img.shape[1], img.shape[0]] * 2)
        for s, (x1, y1, x2, y2) in zip(embedder.embed(img, boxes) @ target, boxes.astype(int)):
            if s > best[0]:
                best = (float(s), img[y1:y2, x1:x2].copy())
    return best[1]


def _crop(frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    return frame[max(y1, 0):y2, max(x1, 0):x2].copy()


def _with_person(sc, frames, crop, boxes_by_frame: dict[int, np.ndarray]):
    """Frames and detections of ``sc`` with ``crop`` pasted (and detected) at the given boxes."""
    det = mot_detections(sc.detections)
    edited = [_paste(f, crop, boxes_by_frame[i]) if i in boxes_by_frame else f for i, f in enumerate(frames, 1)]

    def detections(i: int, frame: np.ndarray):
        boxes, scores = det(i, frame)
        if i in boxes_by_frame:
            boxes, scores = np.vstack([boxes, boxes_by_frame[i]]), np.append(scores, 1.0)
        return boxes, scores
    return edited, detections


def test_lookalike_appearing_while_the_target_is_hidden_is_not_adopted(hidden_target, frames, lookalike) -> None:
    sc = hidden_target
    a, b = sc.hidden
    last = sc.target_boxes[a - 2]                    # where the target was last seen
    w = last[2] - last[0]
    walk = {i: last + [w * (1.5 - 0.1 * (i - a)), 0, w * (1.5 - 0.1 * (i - a)), 0] for i in range(a + 1, b + 1)}
    edited, detections = _with_person(sc, frames, lookalike, walk)
    follower = TargetFollower(FollowConfig(), build_embedder("default"))
    outs = follow_frames(follower, edited, detections, sc.enroll_frame, sc.enroll_box, progress=False)
    m = score_run(sc, outs)
    assert all(o.box is None or o.predicted for o in outs[a - 1:b])
    assert not any(o.box is not None and iou_matrix(o.box, walk[i])[0, 0] >= 0.5
                   for i, o in enumerate(outs, 1) if i in walk)
    lookalike_scores = [o.scores[tid] for i, o in enumerate(outs, 1) if i in walk
                        for tid, box in o.tracks if iou_matrix(box, walk[i])[0, 0] >= 0.9 and tid in o.scores]
    assert lookalike_scores and max(lookalike_scores) < FollowConfig().reacquire_threshold
    assert m["wrong_frames"] == 0 and m["reacquired"] == m["reappearances"] >= 1   # the real target is


def test_stranger_walking_into_the_targets_last_position_gets_no_box(hidden_target, frames, lookalike) -> None:
    """The target leaves; a never-seen look-alike steps where it was (the tracker hands them the
    target's track): no box is reported for them, ever."""
    sc = hidden_target
    a, b = sc.hidden
    last = sc.target_boxes[a - 2]
    into = {i: last + [2.0 * (i - a)] * 4 for i in range(a, b + 1)}
    edited, detections = _with_person(sc, frames, lookalike, into)
    follower = TargetFollower(FollowConfig(), build_embedder("default"))
    tids = set()
    outs = follow_frames(follower, edited, detections, sc.enroll_frame, sc.enroll_box, progress=False,
                         on_frame=lambda i, f, o: tids.update(t for t, box in o.tracks if i in into
                                                              and iou_matrix(box, into[i])[0, 0] >= 0.9))
    assert tids                                      # the stranger was tracked
    assert all(o.box is None for o in outs[a - 1:b]), [(o.state, o.predicted) for o in outs[a - 1:b]]


def test_a_swap_of_the_targets_track_onto_a_neighbour_is_caught(mot16_05, frames, tmp_path) -> None:
    """The tracker's target track is swapped (state and embedding) with the nearest neighbour's: no
    frame is reported on the neighbour, the target is found again, and the gallery only ever holds
    the target's own crops."""
    seq = load_sequence(mot16_05, "gt", "", tmp_path)
    sc = build_scenario(seq, 4, Condition.BASE)
    swap_at = 10                                                   # or the first frame after it the target is matched
    embedder = build_embedder("default")
    follower = TargetFollower(FollowConfig(), embedder)
    swapped = []

    def swap(i: int, _frame, out: FollowOutput) -> None:
        t = follower.tracker.get(follower.target_id)
        if i < swap_at or swapped or t is None or t.detection < 0:
            return
        centre = (t.box[:2] + t.box[2:]) / 2
        others = [o for o in follower.tracker.tracks if o is not t and o.detection >= 0]
        n = min(others, key=lambda o: np.linalg.norm((o.box[:2] + o.box[2:]) / 2 - centre))
        for name in ("mean", "cov", "embedding"):
            a, b = getattr(t, name), getattr(n, name)
            setattr(t, name, b)
            setattr(n, name, a)
        swapped.append(i)

    outs = follow_frames(follower, frames, mot_detections(sc.detections), sc.enroll_frame, sc.enroll_box,
                         progress=False, on_frame=swap)
    assert swapped and swapped[0] < 16
    at = swapped[0]
    outcome = score_run(sc, outs)["outcome"]
    assert "other" not in outcome[at:], outcome[at:]
    assert "target" in outcome[at + 1: at + 12], outcome[at:]       # caught, and the target found again
    # Every gallery sample is the embedding of one of the target's own (gt box) crops.
    own = np.concatenate([embedder.embed(frames[i], sc.target_boxes[i][None]) for i in range(len(frames))
                          if np.isfinite(sc.target_boxes[i]).all()])
    assert (follower.gallery.samples @ own.T).max(axis=1).min() > 0.9999


def test_a_target_in_front_of_others_learns_and_only_from_its_own_crops(pathtrack, tmp_path) -> None:
    """PathTrack person 7 walks near the camera (~540 px tall) with people behind overlapping
    their box in nearly every frame: they are not crossings (FollowConfig.crossing_behind_height),
    so the gallery fills and the identity score calibrates; with every overlap a crossing it never
    does. Nothing but the target's own crops enters the gallery."""
    seq = load_sequence(pathtrack, "gt", "", tmp_path)
    sc = build_scenario(seq, 7, Condition.BASE)
    images = list(FrameSource(pathtrack))[: sc.enroll_frame + 30]
    embedder = build_embedder("default")
    default = FollowConfig().crossing_behind_height
    followers = {}
    for ratio in (default, 0.0):
        follower = followers[ratio] = TargetFollower(FollowConfig(crossing_behind_height=ratio), embedder)
        outs = follow_frames(follower, images, mot_detections(sc.detections), sc.enroll_frame, sc.enroll_box,
                             progress=False)
        assert score_run(sc, outs + [FollowOutput(State.LOST)] * (len(sc.frames) - len(outs)))["wrong_frames"] == 0
    learnt, stuck = followers[default], followers[0.0]
    assert learnt.target.identity.ready and not stuck.target.identity.ready
    assert len(learnt.gallery) >= FollowConfig().enroll_samples > len(stuck.gallery)
    own = np.concatenate([embedder.embed(images[i], sc.target_boxes[i][None]) for i in range(len(images))
                          if np.isfinite(sc.target_boxes[i]).all()])
    assert (learnt.gallery.samples @ own.T).max(axis=1).min() > 0.9999


def test_a_track_that_drifts_onto_someone_else_is_handed_to_the_targets_new_track(mot16_05, frames, lookalike,
                                                                                  tmp_path) -> None:
    """No crossing: from frame 14 the target's own (motion-continued) track shows a stranger, and
    the target appears as a new detection 2.5 widths beside it. No box is reported on the
    stranger, and the new track becomes the target as soon as it has its confirmations: a rival
    is confirmed from its first frame, while the own track is being rejected (not only after it
    was given up, one frame later). Not while the gallery is smaller than reacquire_min_samples."""
    sc = build_scenario(load_sequence(mot16_05, "gt", "", tmp_path), 4, Condition.BASE)
    k = 14                                           # tracking, identity calibrated (enrolled at 5)
    target_crop = _crop(frames[sc.enroll_frame - 1], sc.enroll_box)
    drifted, moved = {}, {}
    for i in range(k, 31):
        box = sc.target_boxes[i - 1]
        if np.isfinite(box).all():
            w = box[2] - box[0]
            drifted[i], moved[i] = box, box + [2.5 * w, 0, 2.5 * w, 0]     # free space there
    edited = [_paste(f, lookalike, drifted[i]) if i in drifted else f for i, f in enumerate(frames, 1)]
    edited, detections = _with_person(sc, edited, target_crop, moved)
    for cfg, handed_over in ((FollowConfig(), True), (FollowConfig(reacquire_min_samples=1000), False)):
        outs = follow_frames(TargetFollower(cfg, build_embedder("default")), edited, detections,
                             sc.enroll_frame, sc.enroll_box, progress=False)
        on = {name: [i for i, o in enumerate(outs, 1) if i in boxes and o.box is not None
                     and iou_matrix(o.box, boxes[i])[0, 0] >= 0.5] for name, boxes in (("drifted", drifted),
                                                                                      ("target", moved))}
        assert outs[k - 2].state == State.TRACKING and outs[k - 2].track_id in outs[k - 1].scores
        assert not on["drifted"], on
        if handed_over:
            assert on["target"] and on["target"][0] == k + cfg.reacquire_confirmations - 1, on
        else:
            assert not on["target"], on


def test_a_continuously_tracked_target_whose_look_changes_keeps_its_track(mot16_05, frames, lookalike,
                                                                          tmp_path) -> None:
    """Person 124 walks alone (its box overlaps nobody's); in frames 20-23 its crop shows someone
    else (pasted over it), with no gap in its track. Nothing is reported then, but the track was
    never broken nor crossed, so it is no swap: when the person looks like themselves again the
    own track resumes after resume_confirmations frames, not reacquire_confirmations."""
    sc = build_scenario(load_sequence(mot16_05, "gt", "", tmp_path), 124, Condition.BASE)
    changed = range(20, 24)
    assert all(iou_matrix(sc.target_boxes[i - 1], sc.others[i - 1]).max() < 0.05 for i in range(15, 30))
    edited = [_paste(f, lookalike, sc.target_boxes[i - 1]) if i in changed else f for i, f in enumerate(frames, 1)]
    cfg = FollowConfig()
    follower = TargetFollower(cfg, build_embedder("default"))
    outs = follow_frames(follower, edited, mot_detections(sc.detections), sc.enroll_frame, sc.enroll_box,
                         progress=False)
    own = outs[changed[0] - 2].track_id
    assert own is not None and all(o.box is None for o in outs[changed[0] - 1:changed[-1]])
    back = next(i for i, o in enumerate(outs, 1) if i > changed[-1] and o.box is not None)
    assert back == changed[-1] + cfg.resume_confirmations and outs[back - 1].track_id == own, back


def test_enrollment_where_the_target_is_not_detected(mot16_05, frames, tmp_path) -> None:
    """The target's detection is missing in the enrollment frame and the next 3: the box itself
    starts the target, predicted until it locks onto the detection, then followed."""
    seq = load_sequence(mot16_05, "gt", "", tmp_path)
    sc = build_scenario(seq, 4, Condition.ENROLL_MISS)
    _, outs, m = _run(sc, frames, build_embedder("default"))
    e = sc.enroll_frame
    assert outs[e - 1].box == pytest.approx(sc.enroll_box) and outs[e - 1].predicted
    locked = next(i for i, o in enumerate(outs, 1) if i > e and o.box is not None and not o.predicted)
    assert locked <= e + 5 and m["outcome"][locked - 1] == "target"
    assert m["success"] >= 0.8 and m["wrong_frames"] == 0, m


def _counters(model) -> dict:
    """Every field of a TargetModel, the appearance parts by their size."""
    out = {k: v for k, v in vars(model).items() if k not in ("cfg", "gallery", "distractors", "identity")}
    out["last_seen"] = out["last_seen"] is not None
    return out | dict(gallery=len(model.gallery), distractors=len(model.distractors), ready=model.identity.ready)


def test_clear_then_enroll_resets_every_counter(hidden_target, frames) -> None:
    from reid_follow.follow.target import TargetModel

    sc = hidden_target
    cfg = FollowConfig()
    follower = TargetFollower(cfg, build_embedder("default"))
    follow_frames(follower, frames[: sc.hidden[0] + cfg.coast_frames + 2], mot_detections(sc.detections), sc.enroll_frame,
                  sc.enroll_box, progress=False)
    fresh = _counters(TargetModel(cfg))
    before = _counters(follower.target)
    assert follower.state == State.OCCLUDED and before["missed"] > 0 and before["gallery"] >= 3
    assert {k for k in fresh if before[k] != fresh[k]} >= {"missed", "track_id", "gallery", "distractors", "ready"}
    assert follower.clear() == (True, "target cleared") and follower.state == State.IDLE
    assert _counters(follower.target) == fresh
    assert follower.current_output().box is None
    ok, _ = follower.enroll(rule="largest")
    after = _counters(follower.target)
    assert ok and follower.state == State.ENROLLING and after["gallery"] == 1 and after["missed"] == 0
    assert after["candidate"] is None and after["reject_streak"] == 0 and after["crossing"] == set()


def test_enrollment_rules_and_failures(frames) -> None:
    f = TargetFollower(FollowConfig(), build_embedder("default"))
    ok, msg = f.enroll()
    assert not ok and "nobody in view" in msg
    assert f.enroll_box(np.array([10.0, 10, 50, 90])) == (False, "no frame received yet: nothing to enroll from")
    f.update(Observation(frames[0], np.zeros((0, 4)), np.zeros(0), 0.05))
    ok, msg = f.enroll()
    assert not ok and "nobody in view" in msg and f.state == State.IDLE
    boxes = np.array([[10.0, 100, 60, 250], [300, 150, 340, 260], [500, 50, 620, 470]])
    f.update(Observation(frames[0], boxes, np.ones(3), 0.1))
    for bad, why in (([700.0, 10, 760, 90], "outside the image"), ([200.0, 10, 200.5, 90], "degenerate"),
                     ([np.nan, 0, 10, 10], "degenerate")):
        ok, msg = f.enroll(roi=np.array(bad))
        assert not ok and why in msg and f.state == State.IDLE
    ok, msg = f.enroll(rule="largest")
    assert ok and f.state == State.ENROLLING and "x=500" in msg
    assert f.clear() == (True, "target cleared") and f.state == State.IDLE
    depth = np.full((480, 640), 8.0)
    depth[150:260, 300:340] = 1.5                                   # the middle person is nearest
    f.update(Observation(frames[1], boxes, np.ones(3), 0.2, depth=depth))
    assert f.enroll(rule="nearest")[0] and "x=300" in f.enroll(rule="nearest")[1]
    assert f.enroll(roi=boxes[0] + 3)[0] and f.current_output().box == pytest.approx(boxes[0])
    ok, msg = f.enroll(roi=np.array([200.0, 20, 240, 120]))        # nobody detected there: the box itself
    out = f.current_output()
    assert ok and "started from the box" in msg and out.predicted and out.box == pytest.approx([200, 20, 240, 120])


def test_bad_observations(frames) -> None:
    f = TargetFollower(FollowConfig(), build_embedder("default"))
    boxes = np.array([[100.0, 100, 160, 260], [-500, -500, -400, -300]])  # second: entirely off-frame
    out = f.update(Observation(frames[0], boxes, np.ones(2), 1.0))
    assert len(out.tracks) == 1
    with pytest.raises(ValueError, match="duplicate or out-of-order"):
        f.update(Observation(frames[1], boxes, np.ones(2), 1.0))
    with pytest.raises(ValueError, match="duplicate or out-of-order"):
        f.update(Observation(frames[1], boxes, np.ones(2), 0.5))
    assert f.enroll(roi=boxes[0])[0]
    f.restart_clock()                                                # a bag loop: stamps restart
    out = f.update(Observation(frames[1], boxes, np.ones(2), 0.1))
    assert f.state != "idle" and out.box == pytest.approx(boxes[0])  # the target survives it
    small = np.ascontiguousarray(frames[2][::2, ::2])                # the image size changes
    out = f.update(Observation(small, boxes / 2, np.ones(2), 2.0))
    assert out.box is not None and out.box == pytest.approx(boxes[0] / 2)
    out = f.update(Observation(None, boxes / 2 + 1, np.ones(2), 3.0))   # no image: motion only
    assert out.box is not None and out.embedded == 0
    with pytest.raises(ValueError, match="2 boxes but 1 scores"):
        Observation(None, boxes, np.ones(1), 4.0)


def test_saved_gallery_finds_the_person_after_restart(hidden_target, frames, tmp_path) -> None:
    sc = hidden_target
    path = tmp_path / "person.npz"
    cfg = FollowConfig(gallery_file=str(path))
    embedder = build_embedder("default")
    first = TargetFollower(cfg, embedder)
    follow_frames(first, frames[:sc.hidden[0] - 1], mot_detections(sc.detections), sc.enroll_frame,
                  sc.enroll_box, progress=False)
    assert path.is_file() and first.state == "tracking"
    restarted = TargetFollower(cfg, embedder)
    assert restarted.state == "lost" and len(restarted.gallery) > 0
    det = mot_detections(sc.detections)
    found = []
    for i in range(sc.enroll_frame + 1, sc.hidden[0]):           # the person is seen again
        boxes, scores = det(i, frames[i - 1])
        found.append(restarted.update(Observation(frames[i - 1], boxes, scores, float(i))))
    m = score_run(sc, [FollowOutput("lost")] * sc.enroll_frame + found + [FollowOutput("lost")] * (48 - sc.hidden[0] + 1))
    assert m["wrong_frames"] == 0 and any(o.state == "tracking" for o in found)
    assert m["success"] > 0.3, m
    with pytest.raises(ValueError, match="another embedder"):
        TargetFollower(cfg, _Dim7())


class _Dim7:
    """An embedder of another dimension than the saved gallery's (only .dim is read at load)."""

    dim = 7


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="enroll_rule"):
        TargetFollower(FollowConfig(enroll_rule="tallest"))
    with pytest.raises(ConfigError, match="reacquire_threshold"):
        FollowConfig(reacquire_threshold=1.5).validate()
    with pytest.raises(ConfigError, match="enroll_samples must not exceed"):
        FollowConfig(enroll_samples=10, gallery_size=5).validate()
    with pytest.raises(ConfigError, match="tracking.max_cost"):
        FollowConfig(tracking=TrackerConfig(max_cost=2.0)).validate()


@pytest.fixture(scope="module")
def pathtrack_yolox(pathtrack, shared_models, tmp_path_factory):
    """PathTrack-UU-test with YOLOX-nano detections (computed once here) and its decoded frames."""
    spec = f"onnx:{shared_models / 'yolox_nano.onnx'}"
    return load_sequence(pathtrack, "detector", spec, tmp_path_factory.mktemp("dets")), list(FrameSource(pathtrack))


def _track_changes(value):
    """A list and an on_frame callback that appends (track id, value()) whenever the reported box
    comes from another track than the last reported one."""
    taken = []

    def watch(_i: int, _frame, out: FollowOutput) -> None:
        if out.box is not None and (not taken or out.track_id != taken[-1][0]):
            taken.append((out.track_id, value()))
    return taken, watch


def test_an_uncalibrated_candidate_is_followed_by_its_track(pathtrack_yolox) -> None:
    """PathTrack person 17 (YOLOX-nano, every 2nd frame) is enrolled in a group: every frame is a
    crossing, the gallery holds 1 sample (not calibrated) when the tracker hands the person a new
    track (frame 40). That track starts its confirmations where the target was last seen and
    keeps them while the tracker carries it on, although the person walks out of the last-seen
    box before the fourth: taken back, never on anyone else. Before: success 0.06 (the
    confirmation restarted once the candidate left that box, and never completed)."""
    seq, images = pathtrack_yolox
    sc = build_scenario(seq, 17, Condition.FPS2)
    follower = TargetFollower(FollowConfig(), build_embedder("default"))
    taken, watch = _track_changes(lambda: follower.target.identity.ready)
    m = score_run(sc, run_follower(sc, images, lambda: follower, None, watch).outputs)
    assert m["wrong_frames"] == 0 and m["success"] >= 0.4, m
    assert len(taken) >= 2 and not taken[1][1], taken        # taken back before any calibration


def test_a_crossing_partner_carrying_the_target_after_a_swap_is_taken_back(pathtrack_yolox) -> None:
    """PathTrack person 7 walks arm in arm with person 26 (YOLOX-nano detections, every 4th frame):
    their boxes overlap in almost every frame, so the gallery holds 2 samples when the tracker
    swaps their tracks (frame 40). The track of the crossing partner now on him scores high; it
    is adopted with the usual score, margin and confirmations, but not held to
    reacquire_min_samples like a stranger's track (the tracker may have swapped them). Before:
    success 0.17, lost from frame 40 on (the partner scored 1.0 for 10 frames)."""
    seq, images = pathtrack_yolox
    sc = build_scenario(seq, 7, Condition.FPS4)
    follower = TargetFollower(FollowConfig(), build_embedder("default"))
    taken, watch = _track_changes(lambda: len(follower.gallery))
    m = score_run(sc, run_follower(sc, images, lambda: follower, None, watch).outputs)
    assert m["wrong_frames"] == 0 and m["success"] >= 0.6, m
    # Taken over by another track while the gallery was still too small to adopt a stranger's.
    assert len(taken) >= 2 and taken[1][1] < FollowConfig().reacquire_min_samples, taken


def test_a_returning_target_whose_score_flickers_is_reacquired_by_default(shared_data, shared_models,
                                                                           tmp_path_factory) -> None:
    """OTB-Crossing with YOLOX-nano detections and OSNet x0.25, the target's detection missing in the
    enrollment frame and the next 3 (eval-follow's enroll-miss): after the crossing the target's
    new track's P flickers (OSNet on a returning person: 1.00, 1.00, 1.00, 0.44, 1.00, 0.79, ...),
    so four agreeing frames in a row seldom complete. The default reacquire_lapses (1) lets one
    such frame pass without restarting the confirmation; with 0 the target is found again much
    later (success 0.70 against 0.83; on the base condition 0.76 against 0.90 before
    update_height_change, which now takes that one either way)."""
    seq = load_sequence(shared_data / "OTB-Crossing", "detector", f"onnx:{shared_models / 'yolox_nano.onnx'}",
                        tmp_path_factory.mktemp("dets"))
    images = list(FrameSource(shared_data / "OTB-Crossing"))
    sc = build_scenario(seq, 1, Condition.ENROLL_MISS)
    embedder = build_embedder(f"onnx:{shared_models / 'osnet_x0_25_msmt17.onnx'}", "cpu")
    success = {lapses: score_run(sc, run_follower(sc, images, lambda n=lapses: TargetFollower(
        FollowConfig(reacquire_lapses=n), embedder), None).outputs)["success"]
        for lapses in (FollowConfig().reacquire_lapses, 0)}
    assert success[FollowConfig().reacquire_lapses] >= 0.8 and success[0] < 0.75, success


def test_a_box_changing_size_fast_pauses_learning() -> None:
    """TargetModel.steady_height: a walking person's box changes size slowly; a box sliding onto a
    neighbour changes it steadily faster. The tolerance grows with the time between frames."""
    model = TargetModel(FollowConfig())
    assert model.steady_height(600.0, 0.04, True)
    assert model.steady_height(590.0, 0.08, True)               # 2 % in a frame at 25 fps: a walk
    shrinking = [model.steady_height(h, 0.08 + 0.04 * i, True) for i, h in enumerate((560, 520, 480, 440), 1)]
    assert shrinking[0] and not all(shrinking)                   # 7-8 % a frame, steadily: the average lags
    slow = TargetModel(FollowConfig())
    assert slow.steady_height(600.0, 0.0, True) and slow.steady_height(480.0, 0.16, True)    # 20 % at 6 fps
    assert not slow.steady_height(200.0, 0.32, True)
    assert slow.steady_height(620.0, 2.0, False) and slow.height == 620.0    # after a gap: restarts


@pytest.mark.slow
def test_a_box_sliding_onto_a_companion_is_not_learnt(pathtrack, tmp_path) -> None:
    """PathTrack person 7 with HOG detections, 20 % of them dropped (eval-follow's drop20; its first
    60 frames, detected here): from frame 40 his box shrinks from 600 to 390 px in 8 frames, sliding
    onto the companion beside him, who then has his track. Learnt, those crops make her score as
    high as him and she is followed (8 wrong frames here, 95 in the whole sequence); with learning
    paused while the box changes size that fast (update_height_change), nobody else is followed."""
    part = tmp_path / pathtrack.name                 # the first 60 frames as a sequence of their own
    (part / "img1").mkdir(parents=True)
    (part / "gt").mkdir()
    for image in sorted((pathtrack / "img1").iterdir())[:60]:
        (part / "img1" / image.name).symlink_to(image)
    rows = (pathtrack / "gt" / "gt.txt").read_text().splitlines()
    (part / "gt" / "gt.txt").write_text("\n".join(r for r in rows if int(r.split(",")[0]) <= 60) + "\n")
    (part / "seqinfo.ini").write_text((pathtrack / "seqinfo.ini").read_text().replace("seqLength=199", "seqLength=60"))
    seq = load_sequence(part, "detector", "hog", tmp_path / "dets", progress=False)
    sc = build_scenario(seq, 7, Condition.DROP)
    images = list(FrameSource(part))
    embedder = build_embedder("default")
    wrong = {}
    for change in (FollowConfig().update_height_change, 1.0):
        follower = TargetFollower(FollowConfig(update_height_change=change), embedder)
        outs = follow_frames(follower, images, mot_detections(sc.detections), sc.enroll_frame, sc.enroll_box,
                             progress=False)
        wrong[change] = score_run(sc, outs)["wrong_frames"]
    assert wrong[FollowConfig().update_height_change] == 0 and wrong[1.0] >= 4, wrong
