"""``reid-follow bench ros``: the nodes in their own processes vs the same core called in-process.

A publisher replays real footage (vtest.avi by default) at each rate and size; per frame it records
when the image was published and when its /detections and /target_pose arrived (same clock), and
psutil samples each node process.  The in-process baseline runs detector + follower core + pose on
the same frames with no middleware, so ``ros_p50 - inprocess_p50`` is what running as ROS nodes
adds. That difference also holds the nodes competing for the CPU (and, with a detector slower
than the camera, a frame waiting for the one in progress), so each node's own compute per frame
is read from /diagnostics too, and ``latency_beyond_node_compute_ms_p50`` is what is left once
it is taken out: transport, waiting and scheduling.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from reid_follow.commands.demo import VTEST

SIZES = {"640x480": (640, 480), "1280x720": (1280, 720)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--video", default=str(VTEST), help="footage to replay (resized to each size)")
    p.add_argument("--rates", default="15,30,60", help="publish rates in Hz")
    p.add_argument("--sizes", default="640x480,1280x720")
    p.add_argument("--seconds", type=float, default=6.0,
                   help="length of each (rate, size) run: rate x seconds frames, so every rate gets the same "
                        "time to enroll and follow")
    p.add_argument("--detector-model", default="hog", help="hog | onnx:/path/yolox.onnx")
    p.add_argument("--embedder", default="default")
    p.add_argument("--resize-width", type=int, default=1024, help="HOG detector resize (people >= 128 px)")
    p.add_argument("--out", default="bench/results/ros.json")


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    a = np.asarray(values)
    return {"n": len(a), "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)), "max": float(a.max())}


def load_frames(video: str, n: int) -> list[np.ndarray]:
    from reid_follow.video import FrameSource

    return list(itertools.islice(iter(FrameSource(video)), n))


def inprocess(frames: list[np.ndarray], detector_model: str, embedder: str, resize_width: int) -> dict:
    """ms per frame of detector + follower core + pose, no middleware (the baseline)."""
    from reid_follow.config import DetectorConfig, FollowerConfig
    from reid_follow.detect import build_detector
    from reid_follow.follow.follower import TargetFollower
    from reid_follow.follow.types import Observation
    from reid_follow.pose import PoseEstimator, intrinsics

    cfg = FollowerConfig()
    det = build_detector(DetectorConfig(detector_model=detector_model, resize_width=resize_width))
    emb = None
    if embedder != "none":
        from reid_follow.reid import build_embedder

        emb = build_embedder(embedder, "auto")
    core = TargetFollower(cfg.follow, emb)
    pose = PoseEstimator(cfg.pose)
    times = []
    for i, frame in enumerate(frames):
        t0 = time.perf_counter()
        boxes, scores = det.detect(frame)
        out = core.update(Observation(frame, boxes, scores, i / 30))
        if out.box is not None:
            pose.estimate(out.box, intrinsics(frame.shape[1], height=frame.shape[0]))
        times.append((time.perf_counter() - t0) * 1e3)
        if i >= 3 and core.state == "idle":
            core.enroll()
    return percentiles(times[1:])


class Probe:
    """Publishes frames and records publish / arrival times per stamp."""

    def __init__(self, node) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import PoseStamped
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Detection2DArray

        self.node = node
        self.pub = node.create_publisher(Image, "/image_raw", qos_profile_sensor_data)
        self.sent: dict[int, float] = {}
        self.det_at: dict[int, float] = {}
        self.pose_at: dict[int, float] = {}
        key = lambda h: h.stamp.sec * 10**9 + h.stamp.nanosec  # noqa: E731
        node.create_subscription(Detection2DArray, "/detections",
                                 lambda m: self.det_at.setdefault(key(m.header), time.perf_counter()), 100)
        node.create_subscription(PoseStamped, "/target_pose",
                                 lambda m: self.pose_at.setdefault(key(m.header), time.perf_counter()), 100)
        # Each node's own compute time per frame, measured inside it under the same CPU sharing.
        self.node_ms: dict[str, list[float]] = {"detector": [], "follower": []}
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)

    def _on_diagnostics(self, msg) -> None:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            for name, key in (("detector", "last_detect_ms"), ("follower", "last_process_ms")):
                if status.name == f"reid_follow: {name}" and float(values.get(key, 0)) > 0:
                    self.node_ms[name].append(float(values[key]))

    def run(self, frames: list[np.ndarray], rate: float, enroll, enrolled: threading.Event) -> None:
        from sensor_msgs.msg import Image

        from reid_follow.ros.image_conv import fill_image

        period = 1.0 / rate
        start = next_enroll = time.perf_counter()
        for i, frame in enumerate(frames):
            target = start + i * period
            time.sleep(max(0.0, target - time.perf_counter()))
            msg = fill_image(Image(), frame, "bgr8")
            stamp = time.time_ns()
            msg.header.stamp.sec, msg.header.stamp.nanosec = stamp // 10**9, stamp % 10**9
            msg.header.frame_id = "camera_optical_frame"
            self.sent[stamp] = time.perf_counter()
            self.pub.publish(msg)
            # Enroll (retried twice a second until the follower has someone to enroll); in the last
            # fifth of the run re-enroll four times a second to time the service while the node is busy.
            burst = i >= 0.8 * len(frames)
            if i >= 5 and (burst or not enrolled.is_set()) and time.perf_counter() >= next_enroll:
                enroll()
                next_enroll = time.perf_counter() + (0.25 if burst else 0.5)
        time.sleep(1.5)

    def summary(self) -> dict:
        det = [(self.det_at[k] - t) * 1e3 for k, t in self.sent.items() if k in self.det_at]
        pose = [(self.pose_at[k] - t) * 1e3 for k, t in self.sent.items() if k in self.pose_at]
        return {"published": len(self.sent), "detections": len(det), "poses": len(pose),
                "dropped_by_detector": len(self.sent) - len(det),
                "latency_ms_image_to_detections": percentiles(det),
                "latency_ms_image_to_target_pose": percentiles(pose),
                "node_compute_ms": {k: percentiles(v) for k, v in self.node_ms.items()}}


def main(args: argparse.Namespace) -> int:
    import rclpy

    from reid_follow.ros import harness
    from reid_follow.ros.graph import StackArguments

    max_rate = max(float(r) for r in args.rates.split(","))
    base = load_frames(args.video, int(round(max_rate * args.seconds)))
    results: dict = {"video": args.video, "detector": args.detector_model, "embedder": args.embedder,
                     "machine": {"cpus": os.cpu_count()}, "runs": []}
    domain = harness.new_domain()
    stack = StackArguments(detector_model=args.detector_model, embedder=args.embedder,
                           sets=[f"detector.resize_width={args.resize_width}"])
    with harness.client_context(domain) as (ctx, executor):
        node = rclpy.create_node("bench_ros", context=ctx)
        executor.add_node(node)
        run_all(args, base, stack, domain, node, results)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    plot(results, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return 0


def run_all(args: argparse.Namespace, base: list[np.ndarray], stack, domain: int, node, results: dict) -> None:
    """Every (size, rate) run: fresh node processes, the probe, their numbers into ``results``."""
    import cv2
    import psutil
    from std_srvs.srv import Trigger

    from reid_follow.ros import harness

    for size_name in args.sizes.split(","):
        w, h = SIZES[size_name]
        all_frames = [cv2.resize(f, (w, h)) for f in base]
        baseline = inprocess(all_frames[:int(round(15 * args.seconds))], args.detector_model, args.embedder,
                             args.resize_width)
        for rate in (float(r) for r in args.rates.split(",")):
            frames = all_frames[:int(round(rate * args.seconds))]
            logs = {k: tempfile.TemporaryFile("w+") for k in ("detector", "follower")}
            procs = harness.start_nodes(domain, stack, logs)
            # a client per run, made once the nodes are starting (as the tests do): one made before
            # and left through the in-process baseline was once seen not to match the new service
            # within 4 minutes on the busy machine
            enroll_client = harness.TriggerClient(node, "/enroll_target")
            client = enroll_client.client  # single calls, each timed (not TriggerClient's re-sending)
            try:
                ps = {k: psutil.Process(p.pid) for k, p in procs.items()}
                enroll_client.wait_for_service(60, alive=procs["follower"])
                probe = Probe(node)
                harness.wait_for(lambda: probe.pub.get_subscription_count() >= 2, 30,
                                 f"{size_name} at {rate:g} Hz: both nodes subscribed to /image_raw")
                for p in ps.values():
                    p.cpu_percent()
                service_ms: list[float] = []
                enrolled = threading.Event()

                def answered(fut, t0: float) -> None:
                    service_ms.append((time.perf_counter() - t0) * 1e3)
                    if fut.result() is not None and fut.result().success:
                        enrolled.set()

                def enroll() -> None:  # also measures how fast a busy follower answers services
                    t0 = time.perf_counter()
                    client.call_async(Trigger.Request()).add_done_callback(lambda f, t0=t0: answered(f, t0))

                probe.run(frames, rate, enroll, enrolled)
                run = {"size": size_name, "rate_hz": rate, **probe.summary(),
                       "enroll_service_ms": percentiles(service_ms),
                       "inprocess_ms_per_frame": baseline,
                       "nodes": {k: {"cpu_percent": p.cpu_percent(), "rss_mb": p.memory_info().rss / 2**20}
                                 for k, p in ps.items()}}
                lat = run["latency_ms_image_to_target_pose"]
                if lat.get("n") and baseline.get("n"):
                    run["middleware_added_ms_p50"] = lat["p50"] - baseline["p50"]
                    run["middleware_added_ms_p95"] = lat["p95"] - baseline["p95"]
                compute = run["node_compute_ms"]
                if lat.get("n") and all(c.get("n") for c in compute.values()):
                    # what is left of the latency once both nodes' own compute (measured inside them,
                    # under the same CPU sharing) is taken out: transport, queueing, scheduling
                    run["latency_beyond_node_compute_ms_p50"] = \
                        lat["p50"] - compute["detector"]["p50"] - compute["follower"]["p50"]
                if not run["detections"]:  # say why instead of reporting a silent empty run
                    for k, f in logs.items():
                        f.seek(0)
                        print(f"{k} log:\n{f.read()[-2000:]}", file=sys.stderr)
                results["runs"].append(run)
                print(json.dumps({k: run[k] for k in ("size", "rate_hz", "published", "poses")}))
                node.destroy_publisher(probe.pub)
            finally:
                enroll_client.destroy()
                harness.stop(procs.values())
                for f in logs.values():
                    f.close()


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in results["runs"] if r["latency_ms_image_to_target_pose"].get("n")]
    if not runs:
        return
    labels = [f"{r['size']}\n{r['rate_hz']:g} Hz" for r in runs]
    x = np.arange(len(runs))
    fig, ax = plt.subplots(figsize=(max(6, len(runs) * 1.2), 4))
    ax.bar(x - 0.2, [r["latency_ms_image_to_target_pose"]["p50"] for r in runs], 0.4, label="ROS p50")
    ax.bar(x + 0.2, [r["inprocess_ms_per_frame"]["p50"] for r in runs], 0.4, label="in-process p50")
    ax.set_xticks(x, labels)
    ax.set_ylabel("ms, image -> target_pose")
    ax.set_title(f"reid_follow through ROS vs in-process ({results['detector']})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
