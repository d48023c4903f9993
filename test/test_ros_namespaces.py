"""Two robots on one ROS domain: `reid-follow run --namespace robot1` and `--namespace robot2` keep
their topics and services apart (relative names), as two launch files under PushROSNamespace do."""
from __future__ import annotations

import pytest

from rosutil import TriggerClient, call_trigger, new_domain, ros_context, start_runner, stop_process, wait_for

from reid_follow.bagfile import make_bag
from reid_follow.ros.graph import resolve

pytestmark = pytest.mark.ros
ROBOTS = ("robot1", "robot2")


def test_two_followers_in_two_namespaces_do_not_collide(tmp_path, mot16_05):
    import rclpy
    from geometry_msgs.msg import PoseStamped
    from std_msgs.msg import String

    from reid_follow.ros.bag_player import BagPlayer

    bag = tmp_path / "bag"
    make_bag(mot16_05, bag, mot16_05 / "det" / "det.txt", max_frames=24)
    domain = new_domain()
    procs = {r: start_runner(domain, "--no-detector", "--namespace", r, "--set", "follower.embedder=none")
             for r in ROBOTS}
    poses: dict[str, list] = {r: [] for r in ROBOTS}
    states: dict[str, list] = {r: [] for r in ROBOTS}
    try:
        with ros_context(domain) as (ctx, executor):
            node = rclpy.create_node("namespaces_test", context=ctx)
            executor.add_node(node)
            for r in ROBOTS:
                node.create_subscription(PoseStamped, resolve("target_pose", r), poses[r].append, 100)
                node.create_subscription(String, resolve("status", r), lambda m, r=r: states[r].append(m.data), 100)
            enroll = {r: TriggerClient(node, resolve("enroll_target", r)) for r in ROBOTS}
            for r in ROBOTS:
                enroll[r].wait_for_service(60, alive=procs[r])
            # the documented root names are not served by either robot
            assert node.count_publishers("/target_pose") == 0 and node.count_subscribers("/image_raw") == 0
            assert not node.create_client(enroll["robot1"].client.srv_type, "/enroll_target").service_is_ready()

            # camera frames for robot1 only
            player = BagPlayer(node, bag, rate=0.5, remap={t: resolve(t.lstrip("/"), "robot1")
                                                           for t in ("/image_raw", "/camera_info", "/detections")})
            assert player.wait_for_subscribers(("/image_raw", "/detections"), timeout=30)
            assert node.count_subscribers(resolve("image_raw", "robot2")) == 1  # robot2 listens on its own
            seen = {"detections": 0, "enrolled": None}

            def on_message(topic: str, _t: int) -> None:
                seen["detections"] += topic == "/detections"
                if seen["detections"] >= 6 and seen["enrolled"] is None:
                    reply = enroll["robot1"].poll()
                    if reply is not None and reply.success:
                        seen["enrolled"] = reply.message

            player.play(on_message)
            assert seen["enrolled"], "robot1 never enrolled anyone"
            wait_for(lambda: len(poses["robot1"]) >= 5, 20, "robot1's target poses")
            # robot2 saw none of robot1's camera: nobody to enroll, no pose, never tracking
            reply = call_trigger(node, resolve("enroll_target", "robot2"))
            assert not reply.success and "nobody" in reply.message, reply.message
            assert poses["robot2"] == [] and "tracking" not in states["robot2"]
            assert "tracking" in states["robot1"]
            for r in ROBOTS:
                assert procs[r].poll() is None, f"{r} died"
    finally:
        logs = {r: stop_process(p) for r, p in procs.items()}
        for r, log in logs.items():  # shown by pytest when the test fails
            print(f"--- {r} log:\n{log}")
    for r, log in logs.items():
        assert "Traceback" not in log, f"{r}:\n{log}"
