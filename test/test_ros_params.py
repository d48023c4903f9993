"""Parameters through rclpy: live ones applied with start-up validation, the others read-only,
descriptors with doc text and ranges, and a bad device an error at start."""
from __future__ import annotations

import pytest

from rosutil import new_domain, ros_context, wait_for
from test_ros_bad_input import dets_msg, image_msg

from reid_follow.config import DetectorConfig, FollowerConfig
from reid_follow.config_base import ConfigError, flatten, ranges
from reid_follow.ros.graph import StackArguments, describe
from reid_follow.video import FrameSource

pytestmark = pytest.mark.ros
# cx, cy, w, h: 'center' (area / (1 + distance to centre / width)) picks CENTRAL, 'largest' picks LARGE
CENTRAL, LARGE = (320.0, 240.0, 90.0, 200.0), (585.0, 300.0, 100.0, 240.0)


@pytest.fixture
def nodes():
    from reid_follow.ros.runner import create_node

    with ros_context(new_domain()) as (ctx, executor):
        import rclpy

        made = {d.name: create_node(d, ctx) for d in describe(StackArguments(sets=["follower.embedder=none"]))}
        client = rclpy.create_node("param_client", context=ctx)
        for n in (*made.values(), client):
            executor.add_node(n)
        yield dict(ctx=ctx, client=client, **made)
        for n in (*made.values(), client):
            n.destroy_node()


def set_remote(client, node_name: str, **values):
    """``ros2 param set``: through the node's parameter services, from another node."""
    from rclpy.parameter import Parameter
    from rclpy.parameter_client import AsyncParameterClient

    remote = AsyncParameterClient(client, node_name)
    assert remote.wait_for_services(timeout_sec=10)
    future = remote.set_parameters([Parameter(k.replace("__", "."), value=v) for k, v in values.items()])
    wait_for(future.done, 10, "set_parameters reply")
    return future.result().results


def describe_remote(client, node_name: str, names: list[str]):
    from rclpy.parameter_client import AsyncParameterClient

    remote = AsyncParameterClient(client, node_name)
    assert remote.wait_for_services(timeout_sec=10)
    future = remote.describe_parameters(names)
    wait_for(future.done, 10, "describe_parameters reply")
    return {d.name: d for d in future.result().descriptors}


def test_live_parameters_are_validated_and_applied(nodes, mot16_05):
    from geometry_msgs.msg import PoseStamped
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import Image
    from std_srvs.srv import Trigger
    from vision_msgs.msg import Detection2DArray

    follower, client = nodes["follower"], nodes["client"]
    # an invalid rule is refused with the start-up message and nothing changes
    (result,) = set_remote(client, "follower", follow__enroll_rule="leftmost")
    assert not result.successful and "enroll_rule" in result.reason
    assert follower.get_parameter("follow.enroll_rule").value == "center" == follower.cfg.follow.enroll_rule
    # out of the declared range: refused by the descriptor
    (result,) = set_remote(client, "follower", pose__smoothing=1.5)
    assert not result.successful and follower.cfg.pose.smoothing == 0.5
    # read-only ones say so
    (result,) = set_remote(client, "follower", embedder="default")
    assert not result.successful and "read-only" in result.reason
    assert follower.get_parameter("embedder").value == "none"

    # two people, the smaller one nearer the image centre: 'center' picks it, 'largest' the other
    frame = next(iter(FrameSource(mot16_05)))
    poses: list[PoseStamped] = []
    client.create_subscription(PoseStamped, "/target_pose", poses.append, 100)
    pubs = dict(img=client.create_publisher(Image, "/image_raw", 10),
                det=client.create_publisher(Detection2DArray, "/detections", 10))
    debug: list = []
    client.create_subscription(Image, "/debug_image", debug.append, 10)
    wait_for(lambda: all(p.get_subscription_count() for p in pubs.values()), 10, "subscriptions")

    def frame_at(sec: int) -> None:
        n0 = follower.counts["processed"]
        pubs["img"].publish(image_msg(frame, sec))
        pubs["det"].publish(dets_msg(sec, [CENTRAL, LARGE]))
        wait_for(lambda: follower.counts["processed"] > n0, 10, f"frame {sec}")

    def enrolled_x(first_sec: int) -> float:
        """Enroll on one frame; the optical x of the target's pose on the next ones (< 0: left of centre)."""
        frame_at(first_sec)
        assert follower.on_enroll(Trigger.Request(), Trigger.Response()).success
        n0 = len(poses)
        frame_at(first_sec + 1)
        wait_for(lambda: len(poses) > n0, 10, "a target pose")
        return poses[-1].pose.position.x

    assert abs(enrolled_x(1)) < 0.05  # 'center': the central person
    follower.on_clear(Trigger.Request(), Trigger.Response())
    # the node API (what a launch file's SetParameter uses) applies the same way as the client
    (result,) = follower.set_parameters([Parameter("follow.enroll_rule", value="largest")])
    assert result.successful and follower.cfg.follow.enroll_rule == "largest"
    assert enrolled_x(3) > 1.0  # now the large one, far right

    # debug output switched on while running: images appear on debug_image
    assert follower.count_publishers("/debug_image") == 0
    (result,) = set_remote(client, "follower", publish_debug_image=True)
    assert result.successful
    wait_for(lambda: client.count_subscribers("/debug_image") >= 1 and follower.count_publishers("/debug_image") == 1,
             10, "debug_image publisher")
    for sec in range(5, 8):
        frame_at(sec)
    wait_for(lambda: len(debug) >= 1, 10, "a debug image")
    assert (debug[-1].width, debug[-1].height) == (640, 480)

    # the detector applies its thresholds live too
    (result,) = set_remote(client, "detector", score_threshold=0.9)
    assert result.successful and nodes["detector"].detector.cfg.score_threshold == 0.9  # what detect() reads
    (result,) = set_remote(client, "detector", detector_model="onnx:/x.onnx")
    assert not result.successful


def test_descriptors_carry_doc_ranges_and_read_only(nodes):
    follower_d = describe_remote(nodes["client"], "follower",
                                 ["pose.smoothing", "embedder", "sync_window_s", "follow.enroll_rule"])
    smoothing = follower_d["pose.smoothing"]
    assert "smoothing" in smoothing.description and "changed while running" in smoothing.description
    assert not smoothing.read_only
    assert follower_d["embedder"].read_only and "read-only" in follower_d["embedder"].description
    (window,) = follower_d["sync_window_s"].floating_point_range
    assert (window.from_value, window.to_value) == ranges(FollowerConfig)["sync_window_s"]
    assert not follower_d["follow.enroll_rule"].read_only
    detector_d = describe_remote(nodes["client"], "detector", ["resize_width", "device"])
    (width,) = detector_d["resize_width"].integer_range
    assert width.from_value == 0
    assert detector_d["device"].read_only
    # every declared parameter has its doc text
    for name in flatten(FollowerConfig()):
        assert len(nodes["follower"].describe_parameter(name).description) > 20, name
    for name in flatten(DetectorConfig()):
        assert len(nodes["detector"].describe_parameter(name).description) > 20, name


@pytest.mark.parametrize("node", ["follower", "detector"])
def test_device_gpu_is_an_error_at_start(node):
    from reid_follow.ros.runner import create_node

    with ros_context(new_domain()) as (ctx, _executor):
        desc = next(d for d in describe(StackArguments(sets=["follower.embedder=none"])) if d.name == node)
        desc.overrides["device"] = "gpu"
        with pytest.raises(ConfigError, match="device must be auto, cpu or cuda"):
            create_node(desc, ctx)
