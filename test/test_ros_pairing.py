"""A 30 Hz camera at full replay speed and a detector 400 ms behind it: every detection array is paired.

With the old pairing (a queue of 10 messages: 333 ms of a 30 Hz camera) none of these arrays
found its image (issue 11: 0 of 25 at 400 ms). The detector here is the slow one a robot has: it
takes the newest frame whenever it is free and publishes that frame's detections (MOT16-05's
det.txt) 400 ms later, with the image's header.
"""
from __future__ import annotations

import threading
import time

import pytest

from rosutil import Diagnostics, call_trigger, new_domain, ros_context, start_runner, stop_process, wait_for, \
    wait_until_quiet

from reid_follow.bagfile import START_NS, make_bag, unit_scores
from reid_follow.mot import read_mot, xywh_to_xyxy

pytestmark = pytest.mark.ros
FPS, LATENCY_S, PASSES = 30.0, 0.4, 3


class SlowDetector:
    """Newest image in, its det.txt detections out LATENCY_S later (one frame at a time)."""

    def __init__(self, node, det_file) -> None:
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Detection2DArray

        self.dets = read_mot(det_file)
        self.scores = unit_scores(self.dets.score)
        self.pub = node.create_publisher(Detection2DArray, "/detections", 10)
        node.create_subscription(Image, "/image_raw", self.on_image,
                                 QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
        self.newest = None
        self.published = 0
        self.busy = False
        self.wake = threading.Condition()
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def on_image(self, msg) -> None:
        with self.wake:
            self.newest = msg.header
            self.wake.notify()

    def run(self) -> None:
        from reid_follow.ros.messages import detections_to_msg, stamp_key

        while True:
            with self.wake:
                self.wake.wait_for(lambda: self.newest is not None or self.stopping)
                if self.stopping:
                    return
                header, self.newest, self.busy = self.newest, None, True
            time.sleep(LATENCY_S)
            frame = round((stamp_key(header) - START_NS) * FPS / 1e9) + 1
            rows = self.dets.frame == frame
            self.pub.publish(detections_to_msg(header, xywh_to_xyxy(self.dets.xywh[rows]), self.scores[rows]))
            self.published += 1
            self.busy = False

    def stop(self) -> None:
        with self.wake:
            self.stopping = True
            self.wake.notify()
        self.thread.join(timeout=5)


def test_every_detection_of_a_slow_detector_is_paired(tmp_path, mot16_05):
    from reid_follow.ros.bag_player import BagPlayer

    bag = tmp_path / "camera30"
    make_bag(mot16_05, bag, fps=FPS)  # images and camera_info only
    domain = new_domain()
    proc = start_runner(domain, "--no-detector", "--set", "follower.embedder=none")
    try:
        with ros_context(domain) as (ctx, executor):
            import rclpy

            node = rclpy.create_node("pairing_test", context=ctx)
            executor.add_node(node)
            diagnostics = Diagnostics(node)
            call_trigger(node, "/clear_target", timeout=60)  # the follower is up
            player = BagPlayer(node, bag, rate=1.0)
            detector = SlowDetector(node, mot16_05 / "det" / "det.txt")
            assert player.wait_for_subscribers(("/image_raw",), timeout=30)
            wait_for(lambda: detector.pub.get_subscription_count() > 0, 30, "the follower on /detections")
            time.sleep(0.5)
            for _ in range(PASSES):  # the bag three times: stamps jump back, pairing restarts
                player.play()
                wait_for(lambda: detector.newest is None and not detector.busy, 10, "the detector to finish")
                time.sleep(0.2)
            detector.stop()
            wait_until_quiet(lambda: diagnostics.count("follower", "processed"), 2.5, 30, "the last frames")
            count = lambda key: diagnostics.count("follower", key)  # noqa: E731
            images_lost = PASSES * 48 - count("images")
            assert detector.published >= PASSES * 48 / FPS / LATENCY_S * 0.8  # about one array per 400 ms
            # every array that reached the follower was paired and processed, unless its very image
            # was lost on the way (best effort): nothing is lost to the pairing itself
            assert count("detections") >= detector.published - 2
            assert count("detections_unpaired") <= images_lost, diagnostics.values
            assert count("processed") == count("pairs") >= count("detections") - images_lost
            assert count("expired_while_busy") == 0
            assert proc.poll() is None, "follower died"
    finally:
        log = stop_process(proc)
    assert "Traceback" not in log, log
    assert "restarting input pairing" in log  # each new pass went back in time
