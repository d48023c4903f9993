"""A detector slower than the camera works on the newest frame and counts the ones it skipped."""
from __future__ import annotations

import time

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
        # Best-effort frames sent before the detector's side has matched are lost, not skipped:
        # send a warm-up frame until it is answered, then the burst.
        deadline = time.monotonic() + 30
        while not detections and time.monotonic() < deadline:
            pub.publish(image_msg(frames[0], 1))
            time.sleep(1.0)
        wait_for(lambda: detections, 10, "the warm-up frame's detections")
        time.sleep(1.0)                                           # the warm-up frames are done
        start_frames, start_dropped, n = node.frames, node.drops.dropped, len(frames)
        # The burst's first frame alone until the detector has it: on a loaded machine the executor can
        # take longer than the 10 ms between frames to pick one up, and frame 102 would replace it.
        pub.publish(image_msg(frames[0], 101))
        wait_for(lambda: 101 in detections, 30, "the burst's first frame's detections")
        for i, frame in enumerate(frames[1:], start=102):
            pub.publish(image_msg(frame, i))
            time.sleep(0.01)
        wait_for(lambda: 100 + n in detections, 60, "the newest frame's detections")
        burst = [d for d in detections if d > 100]
        frames_done, dropped = node.frames - start_frames, node.drops.dropped - start_dropped
        seen = 100 + n - burst[0] + 1            # from the first burst frame it saw to the last
        assert burst[0] == 101
        # (+1: a warm-up frame replaced in the queue is only noticed at the next frame seen)
        assert frames_done == len(burst) and seen <= frames_done + dropped <= seen + 1
        assert dropped >= seen // 2                               # it skipped, it did not queue
        assert burst == sorted(burst)                             # never an older frame after a newer one
        def reported() -> list:  # WARN statuses that carry the final count
            return [st for st in diagnostics if st.level == DiagnosticStatus.WARN and
                    {kv.key: kv.value for kv in st.values}.get("dropped_while_busy") == str(node.drops.dropped)]

        wait_for(reported, 5, "diagnostics with the skipped frames")
        assert "skipped" in reported()[-1].message
        node.destroy_node()
        client.destroy_node()
