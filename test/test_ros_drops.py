"""A detector slower than the camera works on the newest frame and counts the ones it skipped."""
from __future__ import annotations

import pytest

from rosutil import new_domain, ros_context, wait_for
from test_ros_bad_input import image_msg

from reid_follow.ros.graph import StackArguments, describe
from reid_follow.video import FrameSource

pytestmark = pytest.mark.ros


def test_busy_detector_counts_skipped_frames_on_diagnostics(mot16_05):
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray

    from reid_follow.ros.runner import create_node

    frames = list(FrameSource(mot16_05))[:30]
    with ros_context(new_domain()) as (ctx, executor):
        # HOG on a frame upscaled to 1280 px takes far longer than the 10 ms between frames below
        desc = next(d for d in describe(StackArguments(sets=["detector.resize_width=1280"])) if d.name == "detector")
        node = create_node(desc, ctx)
        client = rclpy.create_node("drops_client", context=ctx)
        for n in (node, client):
            executor.add_node(n)
        detections: list[int] = []
        diagnostics: list = []
        client.create_subscription(Detection2DArray, "/detections", lambda m: detections.append(m.header.stamp.sec), 100)
        client.create_subscription(DiagnosticArray, "/diagnostics", lambda m: diagnostics.extend(
            s for s in m.status if s.name == "reid_follow: detector"), 100)
        pub = client.create_publisher(Image, "/image_raw", 100)
        wait_for(lambda: pub.get_subscription_count() > 0, 10, "detector subscription")
        for i, frame in enumerate(frames, start=1):
            pub.publish(image_msg(frame, i))
            wait_for(lambda: True, 0.01)
        wait_for(lambda: len(frames) in detections, 60, "the newest frame's detections")
        # counting starts at the first frame it saw (earlier ones may predate the match)
        seen = len(frames) - detections[0] + 1
        assert node.frames == len(detections) and node.frames + node.drops.dropped == seen
        assert node.drops.dropped >= seen // 2                   # it skipped, it did not queue
        assert detections == sorted(detections)                  # never an older frame after a newer one
        wait_for(lambda: any(s.level == DiagnosticStatus.WARN for s in diagnostics), 5, "diagnostics")
        status = next(s for s in diagnostics if s.level == DiagnosticStatus.WARN)
        values = {kv.key: kv.value for kv in status.values}
        assert int(values["dropped_while_busy"]) == node.drops.dropped and "skipped" in status.message
        node.destroy_node()
        client.destroy_node()
