"""``detector`` node: image_raw (sensor_msgs/Image) -> detections (vision_msgs/Detection2DArray)."""
from __future__ import annotations

from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from reid_follow.config import DetectorConfig
from reid_follow.detect import build_detector
from reid_follow.ros.image_conv import ImageConversionError, to_bgr8
from reid_follow.ros.messages import detections_to_msg
from reid_follow.ros.params import declare_config
from reid_follow.ros.problems import ProblemLog


class DetectorNode(Node):
    """Detects people in each camera frame; the output header is the image's header.

    The subscription keeps only the newest frame (best effort, depth 1), so a detector that is
    slower than the camera processes the latest image instead of falling behind.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("detector", **kwargs)
        self.problems = ProblemLog(self.get_logger())
        self.cfg = declare_config(self, DetectorConfig)
        self.detector = build_detector(self.cfg)
        self.pub = self.create_publisher(Detection2DArray, "detections", 10)
        newest_only = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.create_subscription(Image, "image_raw", self.on_image, newest_only)
        self.frames = 0
        self.get_logger().info(f"detector '{self.cfg.detector_model}' ready")

    def on_image(self, msg: Image) -> None:
        try:
            frame = to_bgr8(msg)
            boxes, scores = self.detector.detect(frame)
        except (ImageConversionError, ValueError) as e:
            self.problems.error(f"frame skipped: {e}")
            return
        self.pub.publish(detections_to_msg(msg.header, boxes, scores))
        self.frames += 1


def main(args: list[str] | None = None) -> None:
    from reid_follow.ros.runner import run_node

    run_node(DetectorNode, args)
