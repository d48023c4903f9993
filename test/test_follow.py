"""The following core (TargetFollower) on real footage: enrollment, state machine, re-acquisition."""
from __future__ import annotations

import numpy as np
import pytest

from reid_follow.config_base import ConfigError
from reid_follow.follow.config import FollowConfig
from reid_follow.follow.evaluate import Condition, build_scenario, load_sequence, score_run
from reid_follow.follow.follower import TargetFollower
from reid_follow.follow.offline import follow_frames, mot_detections
from reid_follow.follow.types import STATES, FollowOutput, Observation
from reid_follow.reid import build_embedder
from reid_follow.tracking.config import TrackerConfig
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
    _, outs, m = _run(sc, frames, build_embedder("default"))
    _, _, motion = _run(sc, frames, None)
    assert m["success"] >= 0.9 and m["wrong_frames"] == 0 and m["absent_correct"] == 1.0
    assert m["reacquired"] == m["reappearances"] >= 1
    assert motion["success"] < m["success"] - 0.15            # motion only cannot come back
    states = [o.state for o in outs]
    assert set(states) <= set(STATES)
    for want in ("idle", "enrolling", "tracking", "occluded"):
        assert want in states
    assert all(o.box is None for o in outs if o.state in ("idle", "occluded", "lost"))
    hidden = outs[sc.hidden[0] - 1: sc.hidden[1]]
    assert all(o.box is None for o in hidden)


def test_reacquisition_needs_consecutive_confirmations(hidden_target, frames) -> None:
    sc = hidden_target
    slow = FollowConfig(reacquire_confirmations=4, resume_threshold=1.0, reject_threshold=1.0)
    log: list = []
    _run(sc, frames, build_embedder("default"), slow, log)
    # Every switch into 'tracking' from 'lost'/'occluded' onto a new track was preceded by a
    # candidate streak; with resume disabled no own-track shortcut exists.
    returns = [i for i in range(1, len(log)) if log[i].state == "tracking" and log[i - 1].state in ("lost", "occluded")]
    for i in returns:
        assert all(o.box is None for o in log[i - 3:i])


def test_enrollment_rules_and_failures(frames) -> None:
    f = TargetFollower(FollowConfig(), build_embedder("default"))
    ok, msg = f.enroll()
    assert not ok and "nobody in view" in msg
    boxes = np.array([[10.0, 100, 60, 250], [300, 150, 340, 260], [500, 50, 620, 470]])
    f.update(Observation(frames[0], boxes, np.ones(3), 0.1))
    ok, msg = f.enroll(roi=np.array([200.0, 0, 220, 20]))
    assert not ok and "best IoU 0.00" in msg and f.state == "idle"
    ok, msg = f.enroll(rule="largest")
    assert ok and f.state == "enrolling" and "x=500" in msg
    assert f.clear() == (True, "target cleared") and f.state == "idle"
    depth = np.full((480, 640), 8.0)
    depth[150:260, 300:340] = 1.5                                   # the middle person is nearest
    f.update(Observation(frames[1], boxes, np.ones(3), 0.2, depth=depth))
    assert f.enroll(rule="nearest")[0] and "x=300" in f.enroll(rule="nearest")[1]
    assert f.enroll(roi=boxes[0] + 3)[0] and f.current_output().box is not None


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
