"""A follower restarted mid-run with a saved gallery finds its person again without a new enrollment.

Real footage (MOT16-05, its visible pedestrians as the detector's output) is replayed from a
rosbag2 file to `reid-follow run` with `follow.gallery_file` set. The first process is enrolled
through /enroll_target and stopped; a second process, never enrolled, starts from the file,
reports `lost`, and then follows the same person: every pose is traced back to the annotated
person whose box gives exactly that position.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from rosutil import (Diagnostics, TriggerClient, call_trigger, new_domain, ros_context, start_runner, stop_process,
                     wait_for, wait_until_quiet)

from reid_follow.bagfile import START_NS, make_bag
from reid_follow.mot import read_mot, xywh_to_xyxy
from reid_follow.pose import PoseConfig, PoseEstimator, intrinsics

pytestmark = pytest.mark.ros
ENROLL_AFTER = 4


@pytest.fixture(scope="module")
def gt_bag(tmp_path_factory, mot16_05):
    """MOT16-05 with its well visible pedestrians written as a detector's det.txt."""
    tmp = tmp_path_factory.mktemp("restart")
    gt = read_mot(mot16_05 / "gt" / "gt.txt")
    lines = []
    for i in range(1, 49):
        rows = gt.at(i)
        for (x, y, w, h), cls, flag, vis in zip(rows.xywh, rows.cls, rows.score, rows.visibility):
            if cls == 1 and flag == 1 and vis >= 0.3:
                lines.append(f"{i},-1,{x:.1f},{y:.1f},{w:.1f},{h:.1f},1.0")
    det = tmp / "det.txt"
    det.write_text("\n".join(lines) + "\n")
    make_bag(mot16_05, tmp / "bag", det)
    people = {}   # frame -> [(gt id, the position a pose on their box has)]
    est, k = PoseEstimator(PoseConfig(smoothing=1.0)), intrinsics(640, height=480, horizontal_fov_deg=60.0)
    for line in lines:
        fr, _, x, y, w, h, _ = (float(v) for v in line.split(","))
        box = np.clip(xywh_to_xyxy(np.array([[x, y, w, h]]))[0], 0, [640, 480, 640, 480])
        pid = next(int(i) for i, b in zip(gt.at(int(fr)).ids, gt.at(int(fr)).xywh) if np.allclose(b, [x, y, w, h], atol=0.06))
        people.setdefault(int(fr), []).append((pid, est.estimate(box, k)))
    return tmp / "bag", people


def identities(poses: dict[int, tuple[float, float, float]], people) -> list[int]:
    """The annotated person each pose belongs to (nearest position among the people of its frame)."""
    out = []
    for stamp, xyz in poses.items():
        frame = round((stamp - START_NS) * 14 / 1e9) + 1      # MOT16-05: 14 frames/s
        out.append(min(people[frame], key=lambda p: float(np.linalg.norm(p[1] - np.array(xyz))))[0])
    return out


def _play(bag, domain, gallery, enroll: bool) -> tuple[list[str], dict[int, tuple[float, float, float]], str]:
    from geometry_msgs.msg import PoseStamped
    from std_msgs.msg import String

    from reid_follow.ros.bag_player import BagPlayer

    proc = start_runner(domain, "--no-detector", "--set", f"follower.follow.gallery_file={gallery}",
                        "--set", "follower.pose.smoothing=1.0")
    states: list[str] = []
    poses: dict[int, tuple[float, float, float]] = {}
    try:
        with ros_context(domain) as (ctx, executor):
            import rclpy

            node = rclpy.create_node("restart_test", context=ctx)
            executor.add_node(node)
            from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

            # Latched like the publisher: a status published before the two sides matched (the
            # publisher count says only that *we* see it) still arrives, as the first message.
            latched = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                                 durability=DurabilityPolicy.TRANSIENT_LOCAL)
            status = node.create_subscription(String, "/status", lambda m: states.append(m.data), latched)
            node.create_subscription(PoseStamped, "/target_pose", lambda m: poses.__setitem__(
                m.header.stamp.sec * 10**9 + m.header.stamp.nanosec,
                (m.pose.position.x, m.pose.position.y, m.pose.position.z)), 100)
            diagnostics = Diagnostics(node)
            TriggerClient(node, "/enroll_target").wait_for_service(60, alive=proc)
            # the first status ("lost" on the second run) must not go out before we listen
            wait_for(lambda: status.get_publisher_count() > 0, 30, "the follower's status publisher", alive=proc)
            player = BagPlayer(node, bag, rate=0.5)  # every frame processed on 2 busy cores
            assert player.wait_for_subscribers(("/image_raw", "/detections"), timeout=30)
            seen = []

            def on_message(topic: str, _t: int) -> None:
                if topic == "/detections":
                    seen.append(1)
                    if enroll and len(seen) == ENROLL_AFTER:
                        wait_for(lambda: diagnostics.count("follower", "processed") >= ENROLL_AFTER, 10,
                                 "frames processed", alive=proc)
                        assert call_trigger(node, "/enroll_target").success

            player.play(on_message)
            wait_until_quiet(lambda: diagnostics.count("follower", "processed"), 2.5, 30,
                             "the follower to finish the bag")
            assert proc.poll() is None, "follower process died"
    finally:
        log = stop_process(proc)
    return states, poses, log


def test_restarted_follower_finds_its_person_from_the_saved_gallery(gt_bag, tmp_path):
    bag, people = gt_bag
    gallery = tmp_path / "person.npz"
    first_states, first_poses, log = _play(bag, new_domain(), gallery, enroll=True)
    assert "Traceback" not in log, log
    assert "tracking" in first_states and gallery.is_file()
    (person, n), = Counter(identities(first_poses, people)).most_common(1)
    assert n >= 0.9 * len(first_poses)                   # the first run followed one person
    states, poses, log = _play(bag, new_domain(), gallery, enroll=False)
    assert "Traceback" not in log, log
    assert states[0] == "lost"                            # knows a person, has not seen them yet
    assert "tracking" in states and len(poses) >= 10      # found again, no /enroll_target call
    found = identities(poses, people)
    assert found.count(person) >= 0.9 * len(found), Counter(found)   # that person, not someone else
