"""``detector`` node: image_raw (sensor_msgs/Image) -> detections (vision_msgs/Detection2DArray)."""
from __future__ import annotations

import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from reid_follow.config import DetectorConfig
from reid_follow.detect import build_detector
from reid_follow.ros.drops import DropCounter
from reid_follow.ros.image_conv import ImageConversionError, to_bgr8
from reid_follow.ros.messages import detections_to_msg, diagnostics_msg
from reid_follow.ros.params import declare_config
from reid_follow.ros.problems import ProblemLog

# Parameters applied while the node runs (the detectors read them from their config on every
# frame); the model and the device are read-only.
LIVE_PARAMETERS = frozenset({"score_threshold", "nms_iou", "resize_width", "hog_min_margin"})


class DetectorNode(Node):
    """Detects people in each camera frame; the output header is the image's header.

    The subscription keeps only the newest frame (best effort, depth 1), so a detector that is
    slower than the camera processes the latest image instead of falling behind; the frames it
    never saw are counted and reported on /diagnostics with the time per frame.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("detector", **kwargs)
        self.problems = ProblemLog(self.get_logger())
        self.cfg = declare_config(self, DetectorConfig, LIVE_PARAMETERS)
        self.detector = build_detector(self.cfg)
        self.pub = self.create_publisher(Detection2DArray, "detections", 10)
        newest_only = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.create_subscription(Image, "image_raw", self.on_image, newest_only)
        self.drops = DropCounter()
        self.frames = 0
        self.bad_frames = 0
        self.last_detect_ms = 0.0
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self.publish_diagnostics)
        self.get_logger().info(f"detector '{self.cfg.detector_model}' ready")

    def on_image(self, msg: Image, info: dict) -> None:
        self.drops.see(info)
        t0 = time.perf_counter()
        try:
            frame = to_bgr8(msg)
            boxes, scores = self.detector.detect(frame)
        except (ImageConversionError, ValueError) as e:
            self.bad_frames += 1
            self.problems.error(f"frame skipped: {e}")
            return
        self.pub.publish(detections_to_msg(msg.header, boxes, scores))
        self.frames += 1
        self.last_detect_ms = (time.perf_counter() - t0) * 1e3

    def publish_diagnostics(self) -> None:
        """Frames detected, frames skipped because the detector was busy (WARN when any), ms per frame."""
        level = DiagnosticStatus.WARN if self.drops.dropped else DiagnosticStatus.OK
        message = (f"{self.drops.dropped} frame(s) skipped while busy (newest frame kept)" if self.drops.dropped
                   else "ok")
        values = {"frames": self.frames, "dropped_while_busy": self.drops.dropped, "bad_frames": self.bad_frames,
                  "last_detect_ms": f"{self.last_detect_ms:.1f}"}
        self.diag_pub.publish(diagnostics_msg(self, "reid_follow: detector", level, message, values))


def main(args: list[str] | None = None) -> None:
    from reid_follow.ros.runner import run_node

    run_node(DetectorNode, args)
