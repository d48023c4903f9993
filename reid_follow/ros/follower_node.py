"""``follower`` node: pairs images with detections, runs the following core, publishes target_pose.

Topics (relative, remap in launch): image_raw, detections, camera_info (optional),
depth/image_raw (when follow.enroll_rule or pose uses depth: ``use_depth``), enroll_roi
(sensor_msgs/RegionOfInterest) in; target_pose (geometry_msgs/PoseStamped), status
(std_msgs/String: idle | enrolling | tracking | occluded | lost), debug_image (optional) out.
Services: enroll_target, clear_target (std_srvs/Trigger).
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, RegionOfInterest
from std_msgs.msg import String
from std_srvs.srv import Trigger
from vision_msgs.msg import Detection2DArray

from reid_follow.config import FollowerConfig
from reid_follow.follow.follower import TargetFollower
from reid_follow.follow.offline import annotate
from reid_follow.follow.types import Observation
from reid_follow.pose import PoseEstimator, intrinsics
from reid_follow.ros.drops import DropCounter
from reid_follow.ros.image_conv import ImageConversionError, fill_image, to_bgr8
from reid_follow.ros.messages import diagnostics_msg, msg_to_detections, pose_msg, stamp_key
from reid_follow.ros.params import declare_config
from reid_follow.ros.problems import ProblemLog


class FollowerNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("follower", **kwargs)
        self.problems = ProblemLog(self.get_logger())
        self.cfg: FollowerConfig = declare_config(self, FollowerConfig)
        embedder = None
        if self.cfg.embedder != "none":
            from reid_follow.reid import build_embedder

            embedder = build_embedder(self.cfg.embedder, self.cfg.device)
        self.core = TargetFollower(self.cfg.follow, embedder)
        self.pose = PoseEstimator(self.cfg.pose)
        self.lock = threading.Lock()
        self.images: OrderedDict[int, Image] = OrderedDict()
        self.dets: OrderedDict[int, Detection2DArray] = OrderedDict()
        self.last_stamp = -1
        self.camera_matrix: np.ndarray | None = None
        self.drops = DropCounter()
        self.counts = dict(images=0, detections=0, processed=0, poses=0, unmatched_dropped=0, stale_dropped=0,
                           bad_frames=0)
        self.last_process_ms = 0.0
        self._bad_reported = 0

        data = MutuallyExclusiveCallbackGroup()
        control = MutuallyExclusiveCallbackGroup()
        # Best effort matches both reliable and best-effort publishers of detections.
        det_qos = QoSProfile(depth=self.cfg.sync_queue_size, reliability=ReliabilityPolicy.BEST_EFFORT)
        # Depth 1: when processing is slower than the camera the newest frame waits, older ones are dropped.
        image_qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.create_subscription(Image, "image_raw", self.on_image, image_qos, callback_group=data)
        self.create_subscription(Detection2DArray, "detections", self.on_detections, det_qos, callback_group=data)
        self.create_subscription(CameraInfo, "camera_info", self.on_camera_info, qos_profile_sensor_data,
                                 callback_group=control)
        self.create_subscription(RegionOfInterest, "enroll_roi", self.on_enroll_roi, 10, callback_group=control)
        self.create_service(Trigger, "enroll_target", self.on_enroll, callback_group=control)
        self.create_service(Trigger, "clear_target", self.on_clear, callback_group=control)
        self.pose_pub = self.create_publisher(PoseStamped, "target_pose", 10)
        self.status_pub = self.create_publisher(String, "status", 10)
        self.debug_pub = self.create_publisher(Image, "debug_image", 2) if self.cfg.publish_debug_image else None
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self.publish_diagnostics, callback_group=control)
        self.get_logger().info(f"follower ready (embedder '{self.cfg.embedder}', "
                               f"enroll rule '{self.cfg.follow.enroll_rule}')")

    # ---- input pairing ------------------------------------------------------------------------
    def on_image(self, msg: Image, info: dict) -> None:
        self.counts["images"] += 1
        self.drops.see(info)
        self._pair(stamp_key(msg.header), msg, self.images, self.dets, image_first=True)

    def on_detections(self, msg: Detection2DArray) -> None:
        self.counts["detections"] += 1
        self._pair(stamp_key(msg.header), msg, self.dets, self.images, image_first=False)

    def _pair(self, key: int, msg, mine: OrderedDict, other: OrderedDict, image_first: bool) -> None:
        if key <= self.last_stamp:
            if self.last_stamp - key > 1_000_000_000:  # jumped back (bag loop, restarted camera)
                self.get_logger().warning("stamps jumped back by more than 1 s: restarting input pairing")
                self.images.clear()
                self.dets.clear()
                self.last_stamp = -1
                with self.lock:
                    self.core.restart_clock()
            else:
                self.counts["stale_dropped"] += 1
                self.problems.warning(f"dropping message with old or duplicate stamp {key}")
                return
        partner = other.pop(key, None)
        if partner is None:
            mine[key] = msg
            while len(mine) > self.cfg.sync_queue_size:
                mine.popitem(last=False)
                self.counts["unmatched_dropped"] += 1
            return
        image, dets = (msg, partner) if image_first else (partner, msg)
        for queue in (self.images, self.dets):  # older unmatched entries can no longer pair
            for k in [k for k in queue if k < key]:
                del queue[k]
                self.counts["unmatched_dropped"] += 1
        self.last_stamp = key
        self._process(image, dets)

    # ---- processing ---------------------------------------------------------------------------
    def _process(self, image: Image, dets: Detection2DArray) -> None:
        t0 = time.perf_counter()
        try:
            frame = to_bgr8(image)
        except ImageConversionError as e:
            self.counts["bad_frames"] += 1
            self.problems.error(f"frame skipped: {e}")
            return
        h, w = frame.shape[:2]
        boxes, scores, problems = msg_to_detections(dets, w, h)
        if problems:
            self.problems.warning(f"ignored {len(problems)} detection(s): {'; '.join(problems[:3])}")
        stamp = stamp_key(image.header) * 1e-9
        try:
            with self.lock:
                out = self.core.update(Observation(frame, boxes, scores, stamp))
        except Exception as e:  # noqa: BLE001 - one bad frame must not take the node (and its target) down
            self.counts["bad_frames"] += 1
            self.problems.error(f"frame skipped, the follower core failed on it: {type(e).__name__}: {e}")
            return
        self.counts["processed"] += 1
        if out.box is not None:
            position = self.pose.estimate(out.box, self._camera_matrix(w, h))
            if position is not None:
                self.pose_pub.publish(pose_msg(image.header, self.pose.frame_id(image.header.frame_id), position))
                self.counts["poses"] += 1
        else:
            self.pose.reset()
        self.status_pub.publish(String(data=out.state))
        if self.debug_pub is not None:
            self.debug_pub.publish(fill_image(Image(header=image.header), annotate(frame, out), "bgr8"))
        self.last_process_ms = (time.perf_counter() - t0) * 1e3

    def publish_diagnostics(self) -> None:
        """State and counters on /diagnostics: WARN while lost, ERROR while bad frames keep arriving."""
        state = self.core.state
        level = DiagnosticStatus.OK
        message = state
        new_bad = self.counts["bad_frames"] - self._bad_reported
        self._bad_reported = self.counts["bad_frames"]
        if new_bad:
            level, message = DiagnosticStatus.ERROR, f"{state}; {new_bad} bad frame(s) skipped in the last second"
        elif state == "lost":
            level = DiagnosticStatus.WARN
        values = {"state": state, "last_process_ms": f"{self.last_process_ms:.1f}", **self.counts,
                  "images_dropped_while_busy": self.drops.dropped}
        self.diag_pub.publish(diagnostics_msg(self, "reid_follow: follower", level, message, values))

    def _camera_matrix(self, width: int, height: int) -> np.ndarray:
        if self.camera_matrix is not None:
            return self.camera_matrix
        c = self.cfg
        return intrinsics(width, c.fx, c.fy, c.cx, c.cy, height, c.horizontal_fov_deg)

    def on_camera_info(self, msg: CameraInfo) -> None:
        k = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
        if k[0, 0] > 0 and k[1, 1] > 0 and np.all(np.isfinite(k)):
            self.camera_matrix = k
        else:
            self.problems.warning("camera_info has no valid intrinsics (K); using parameters")

    # ---- control ------------------------------------------------------------------------------
    def on_enroll(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        with self.lock:
            resp.success, resp.message = self.core.enroll()
        self._log_control("enroll_target", resp)
        return resp

    def on_enroll_roi(self, msg: RegionOfInterest) -> None:
        roi = np.array([msg.x_offset, msg.y_offset, msg.x_offset + msg.width, msg.y_offset + msg.height], float)
        if msg.width == 0 or msg.height == 0:
            self.get_logger().error("enroll_roi ignored: zero-size region")
            return
        with self.lock:
            ok, message = self.core.enroll(roi=roi)
        self._log_control("enroll_roi", Trigger.Response(success=ok, message=message))

    def on_clear(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        with self.lock:
            resp.success, resp.message = self.core.clear()
            self.pose.reset()
        self._log_control("clear_target", resp)
        return resp

    def _log_control(self, what: str, resp: Trigger.Response) -> None:
        if resp.success:
            self.get_logger().info(f"{what}: {resp.message}")
        else:  # rclpy ties a severity to each call site, so the two levels need their own lines
            self.get_logger().warning(f"{what}: {resp.message}")
        self.status_pub.publish(String(data=self.core.state))


def main(args: list[str] | None = None) -> None:
    from reid_follow.ros.runner import run_node

    run_node(FollowerNode, args, threads=2)  # services answer while a frame is processed
