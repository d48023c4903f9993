"""``follower`` node: pairs images with detections, runs the following core, publishes target_pose.

Topics (relative names: a namespace or launch remapping moves them): image_raw, detections,
camera_info (optional), depth/image_raw (optional: 16UC1 mm or 32FC1 m, aligned to image_raw),
enroll_roi (sensor_msgs/RegionOfInterest) in; target_pose (geometry_msgs/PoseStamped), status
(std_msgs/String, transient local: idle | enrolling | tracking | occluded | lost, with
" (predicted)" appended while the reported box is a motion prediction), debug_image (optional)
out; /diagnostics. Services: enroll_target, clear_target (std_srvs/Trigger).
"""
from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, RegionOfInterest
from std_msgs.msg import String
from std_srvs.srv import Trigger
from vision_msgs.msg import Detection2DArray

from reid_follow.config import FollowerConfig
from reid_follow.follow.follower import TargetFollower
from reid_follow.follow.offline import annotate
from reid_follow.follow.types import FollowOutput, Observation, State
from reid_follow.pose import PoseEstimator, intrinsics
from reid_follow.ros.drops import DropCounter
from reid_follow.ros.image_conv import ImageConversionError, fill_image, to_bgr8, to_depth_m
from reid_follow.ros.messages import diagnostics_msg, msg_to_detections, pose_msg, stamp_key
from reid_follow.ros.pairing import Pair, StampPairer
from reid_follow.ros.params import declare_config
from reid_follow.ros.problems import ProblemLog

# Parameters applied while the node runs (`ros2 param set`); every other one is read-only. The
# core and the pose estimator read these from their config objects on each frame; the others
# size buffers or pick models when the node starts.
LIVE_PARAMETERS = frozenset({
    "publish_debug_image", "fx", "fy", "cx", "cy", "horizontal_fov_deg",
    *(f"follow.{n}" for n in (
        "enroll_rule", "enroll_min_iou", "min_detection_score", "nms_iou", "update_threshold",
        "update_max_overlap", "refit_interval", "reacquire_threshold", "reacquire_margin",
        "reacquire_confirmations", "resume_threshold", "reject_threshold", "reject_frames", "lost_after_frames")),
    *(f"pose.{n}" for n in ("person_height_m", "depth_core_fraction", "depth_min_m", "depth_max_m", "smoothing")),
})
# Latched: a `ros2 topic echo status` started while nothing changes still gets the state.
STATUS_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def status_text(state: str, predicted: bool) -> str:
    """What the status topic carries: the state, marked while the box is a motion prediction."""
    return f"{state} (predicted)" if predicted else str(state)


class FollowerNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("follower", **kwargs)
        self.problems = ProblemLog(self.get_logger())
        # ``lock``: the core, the pose estimate and the status they publish change together, so a
        # /clear_target can never be followed by a pose or state of the target it cleared.
        self.lock = threading.Lock()
        self.cfg: FollowerConfig = declare_config(self, FollowerConfig, LIVE_PARAMETERS, self.lock,
                                                  self._on_parameters)
        embedder = None
        if self.cfg.embedder != "none":
            from reid_follow.reid import build_embedder

            embedder = build_embedder(self.cfg.embedder, self.cfg.device, self.cfg.embedding)
        self.core = TargetFollower(self.cfg.follow, embedder)
        self.pose = PoseEstimator(self.cfg.pose)
        # Pairing runs on the input threads; processing of the pairs is serialised in stamp order.
        self.pair_lock = threading.Lock()
        self.process_lock = threading.Lock()
        self.pairer = StampPairer(round(self.cfg.sync_window_s * 1e9), round(self.cfg.depth_tolerance_s * 1e9),
                                  on_restart=self._on_restart)
        self.ready: deque[tuple[int, Pair]] = deque()
        self.generation = 0   # bumped when the clock restarts: pairs queued before are stale
        self.camera_matrix: np.ndarray | None = None
        self.drops = DropCounter()
        self.counts = dict(images=0, detections=0, depth=0, processed=0, poses=0, bad_frames=0, expired_while_busy=0)
        self.last_process_ms = 0.0
        self.predicted = False
        self._status: str | None = None
        self._bad_reported = 0

        # Images, depth and detections arrive on their own threads: an image is never missed
        # because a frame is being processed, so every detection array finds its image.
        images = MutuallyExclusiveCallbackGroup()
        detections = MutuallyExclusiveCallbackGroup()
        control = MutuallyExclusiveCallbackGroup()
        # Best effort matches both reliable and best-effort publishers of detections.
        det_qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.create_subscription(Image, "image_raw", self.on_image, qos_profile_sensor_data, callback_group=images)
        self.create_subscription(Image, "depth/image_raw", self.on_depth, qos_profile_sensor_data,
                                 callback_group=images)
        self.create_subscription(Detection2DArray, "detections", self.on_detections, det_qos,
                                 callback_group=detections)
        self.create_subscription(CameraInfo, "camera_info", self.on_camera_info, qos_profile_sensor_data,
                                 callback_group=images)
        self.create_subscription(RegionOfInterest, "enroll_roi", self.on_enroll_roi, 10, callback_group=control)
        self.create_service(Trigger, "enroll_target", self.on_enroll, callback_group=control)
        self.create_service(Trigger, "clear_target", self.on_clear, callback_group=control)
        self.pose_pub = self.create_publisher(PoseStamped, "target_pose", 10)
        self.status_pub = self.create_publisher(String, "status", STATUS_QOS)
        self.debug_pub = None
        self._on_parameters({"publish_debug_image"})
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self.publish_diagnostics, callback_group=control)
        self.create_timer(self.cfg.status_period_s, self._republish_status, callback_group=control)
        with self.lock:
            self._publish_status(self.core.state)
        self.get_logger().info(f"follower ready (embedder '{self.cfg.embedder}', "
                               f"enroll rule '{self.cfg.follow.enroll_rule}')")

    def _on_parameters(self, names: set[str]) -> None:
        if "publish_debug_image" in names and self.cfg.publish_debug_image and self.debug_pub is None:
            self.debug_pub = self.create_publisher(Image, "debug_image", 2)

    # ---- input pairing ------------------------------------------------------------------------
    def on_image(self, msg: Image, info: dict) -> None:
        self.counts["images"] += 1
        self.drops.see(info)
        self._submit(self.pairer.add_image, msg)

    def on_depth(self, msg: Image) -> None:
        self.counts["depth"] += 1
        self._submit(self.pairer.add_depth, msg)

    def on_detections(self, msg: Detection2DArray) -> None:
        self.counts["detections"] += 1
        self._submit(self.pairer.add_detections, msg)

    def _submit(self, add, msg) -> None:
        with self.pair_lock:
            pairs = add(stamp_key(msg.header), msg)
            self.ready.extend((self.generation, pair) for pair in pairs)
        if not pairs:
            return  # never wait for a frame being processed unless there is work: inputs keep flowing
        with self.process_lock:  # whoever gets here first processes every ready pair, oldest first
            while True:
                with self.pair_lock:
                    if not self.ready:
                        return
                    generation, pair = self.ready.popleft()
                    if pair.stamp < self.pairer.newest - self.pairer.window_ns:
                        self.counts["expired_while_busy"] += 1  # processing fell a whole window behind
                        continue
                self._process(generation, pair)

    def _on_restart(self) -> None:
        """Stamps jumped back (bag loop, restarted camera): the core accepts stamps from zero again."""
        self.get_logger().warning("image stamps jumped back by more than 1 s: restarting input pairing")
        self.ready.clear()  # runs under pair_lock
        with self.lock:
            self.generation += 1
            self.core.restart_clock()

    # ---- processing ---------------------------------------------------------------------------
    def _process(self, generation: int, pair: Pair) -> None:
        t0 = time.perf_counter()
        try:
            frame = to_bgr8(pair.image)
        except ImageConversionError as e:
            self.counts["bad_frames"] += 1
            self.problems.error(f"frame skipped: {e}")
            return
        h, w = frame.shape[:2]
        depth = self._depth_m(pair.depth, w, h)
        boxes, scores, problems = msg_to_detections(pair.detections, w, h)
        if problems:
            self.problems.warning(f"ignored {len(problems)} detection(s): {'; '.join(problems[:3])}")
        header = pair.image.header
        with self.lock:
            if generation != self.generation:
                return  # paired before the clock restarted
            try:
                out = self.core.update(Observation(frame, boxes, scores, pair.stamp * 1e-9, depth))
            except Exception as e:  # noqa: BLE001 - one bad frame must not take the node (and its target) down
                self.counts["bad_frames"] += 1
                self.problems.error(f"frame skipped, the follower core failed on it: {type(e).__name__}: {e}")
                return
            self.counts["processed"] += 1
            self._publish_target(out, header, w, h, depth)
            self._publish_status(out.state, out.predicted)
        if self.debug_pub is not None and self.cfg.publish_debug_image:
            self.debug_pub.publish(fill_image(Image(header=header), annotate(frame, out), "bgr8"))
        self.last_process_ms = (time.perf_counter() - t0) * 1e3

    def _publish_target(self, out: FollowOutput, header, width: int, height: int, depth: np.ndarray | None) -> None:
        """target_pose for this frame's box (called under ``lock``); a frame without one resets smoothing."""
        self.predicted = out.box is not None and out.predicted
        if out.box is None:
            self.pose.reset()
            return
        position = self.pose.estimate(out.box, self._camera_matrix(width, height), depth)
        if position is not None:
            self.pose_pub.publish(pose_msg(header, self.pose.frame_id(header.frame_id), position,
                                           self.pose.orientation(position)))
            self.counts["poses"] += 1

    def _depth_m(self, msg: Image | None, width: int, height: int) -> np.ndarray | None:
        """The paired depth image in metres, or None (none paired, or unusable: logged)."""
        if msg is None:
            return None
        try:
            depth = to_depth_m(msg)
        except ImageConversionError as e:
            self.problems.warning(f"depth image not used: {e}")
            return None
        if depth.shape != (height, width):
            self.problems.warning(f"depth image not used: {depth.shape[1]}x{depth.shape[0]} is not aligned to "
                                  f"the {width}x{height} colour image")
            return None
        return depth

    # ---- status and diagnostics ------------------------------------------------------------------
    def _publish_status(self, state: str, predicted: bool = False) -> None:
        """Publish the status when it changed (call under ``lock``, so it is ordered with clears)."""
        text = status_text(state, predicted)
        if text != self._status:
            self._status = text
            self.status_pub.publish(String(data=text))

    def _republish_status(self) -> None:
        with self.lock:
            self.status_pub.publish(String(data=self._status or self.core.state))

    def publish_diagnostics(self) -> None:
        """State and counters on /diagnostics: WARN while lost, ERROR while bad frames keep arriving."""
        state = self.core.state
        level = DiagnosticStatus.OK
        message = status_text(state, self.predicted)
        new_bad = self.counts["bad_frames"] - self._bad_reported
        self._bad_reported = self.counts["bad_frames"]
        if new_bad:
            level, message = DiagnosticStatus.ERROR, f"{message}; {new_bad} bad frame(s) skipped in the last second"
        elif state == State.LOST:
            level = DiagnosticStatus.WARN
        with self.pair_lock:
            pairing = dict(self.pairer.counts)
            pending = self.pairer.pending()
            depth = self.pairer.depth_active
        values = {"state": str(state), "predicted": self.predicted, "last_process_ms": f"{self.last_process_ms:.1f}",
                  **self.counts, **pairing, **{f"pending_{k}": v for k, v in pending.items()},
                  "depth_active": depth, "images_dropped_while_busy": self.drops.dropped}
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
            self._publish_status(self.core.state)
        self._log_control("enroll_target", resp)
        return resp

    def on_enroll_roi(self, msg: RegionOfInterest) -> None:
        roi = np.array([msg.x_offset, msg.y_offset, msg.x_offset + msg.width, msg.y_offset + msg.height], float)
        if msg.width == 0 or msg.height == 0:
            self.get_logger().error("enroll_roi ignored: zero-size region")
            return
        with self.lock:
            ok, message = self.core.enroll(roi=roi)
            self._publish_status(self.core.state)
        self._log_control("enroll_roi", Trigger.Response(success=ok, message=message))

    def on_clear(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        with self.lock:
            resp.success, resp.message = self.core.clear()
            self.pose.reset()
            self.predicted = False
            self._publish_status(self.core.state)
        self._log_control("clear_target", resp)
        return resp

    def _log_control(self, what: str, resp: Trigger.Response) -> None:
        if resp.success:
            self.get_logger().info(f"{what}: {resp.message}")
        else:  # rclpy ties a severity to each call site, so the two levels need their own lines
            self.get_logger().warning(f"{what}: {resp.message}")


def main(args: list[str] | None = None) -> None:
    from reid_follow.ros.runner import run_node

    # images+depth, detections, services, parameter services: each on its own thread
    run_node(FollowerNode, args, threads=4)
