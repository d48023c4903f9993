"""``reid-follow soak --minutes 10``: real footage at 30 Hz through the nodes for a long time.

Reports the nodes' RSS growth (goal < 5 %, measured from the end of the first minute so that
start-up allocations do not count), exceptions in their logs (goal 0) and the follower's state
transitions; enrolls and clears periodically so every path runs.  JSON + an RSS-over-time PNG.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from reid_follow.commands.demo import VTEST


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--rate", type=float, default=30.0)
    p.add_argument("--video", default=str(VTEST))
    p.add_argument("--embedder", default="default")
    p.add_argument("--out", default="bench/results/soak.json")


def main(args: argparse.Namespace) -> int:
    import psutil
    import rclpy
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    from reid_follow.bench.ros import load_frames
    from reid_follow.ros import harness
    from reid_follow.ros.graph import StackArguments
    from reid_follow.ros.image_conv import fill_image

    frames = load_frames(args.video, 300)
    logs = {k: tempfile.NamedTemporaryFile("w+", prefix=f"soak_{k}_", suffix=".log", delete=False) for k in
            ("detector", "follower")}
    domain = harness.new_domain()
    procs = harness.start_nodes(domain, StackArguments(embedder=args.embedder, sets=["detector.resize_width=1024"]),
                                logs)
    transitions: list[tuple[float, str]] = []
    samples: list[dict] = []
    published = 0
    try:
        with harness.client_context(domain) as (ctx, executor):
            node = rclpy.create_node("soak", context=ctx)
            executor.add_node(node)
            node.create_subscription(String, "/status",
                                     lambda m: (not transitions or transitions[-1][1] != m.data)
                                     and transitions.append((time.monotonic(), m.data)), 100)
            pub = node.create_publisher(Image, "/image_raw", qos_profile_sensor_data)
            enroll = harness.TriggerClient(node, "/enroll_target")
            clear = harness.TriggerClient(node, "/clear_target")
            enroll.wait_for_service(120, alive=procs["follower"])
            ps = {k: psutil.Process(p.pid) for k, p in procs.items()}
            pending: harness.TriggerClient | None = None
            start = time.monotonic()
            end = start + args.minutes * 60
            next_sample = start
            i = 0
            from tqdm import tqdm

            bar = tqdm(total=int(args.minutes * 60), desc="soak", unit="s")
            while time.monotonic() < end:
                now = time.monotonic()
                if now >= next_sample:
                    samples.append({"t": now - start, **{k: p.memory_info().rss for k, p in ps.items()}})
                    next_sample += 5.0
                    bar.n = int(now - start)
                    bar.refresh()
                frame = frames[i % len(frames)]  # a loop over the clip: stamps keep increasing
                msg = fill_image(Image(), frame, "bgr8")
                stamp = time.time_ns()
                msg.header.stamp.sec, msg.header.stamp.nanosec = stamp // 10**9, stamp % 10**9
                msg.header.frame_id = "camera_optical_frame"
                pub.publish(msg)
                published += 1
                # enroll every 300 frames and clear every 900, so every path runs; a call is
                # (re-)sent until answered, without holding up the camera
                if i % 300 == 30:
                    pending = enroll
                if i % 900 == 880:
                    pending = clear
                if pending is not None and pending.poll() is not None:
                    pending = None
                i += 1
                time.sleep(max(0.0, start + i / args.rate - time.monotonic()))
            bar.close()
            alive = {k: p.poll() is None for k, p in procs.items()}
    finally:
        harness.stop(procs.values())
    report = summarise(samples, logs, transitions, published, alive, args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    plot(samples, out.with_suffix(".png"))
    growth = ", ".join(f"{k} {v:+.1f} %" for k, v in report["rss_growth_percent"].items())
    print(f"soak: {args.minutes:g} min, {published} frames, RSS growth {growth}, exceptions "
          f"{report['exceptions']}, {len(transitions)} state transitions; wrote {out}")
    return 0 if report["exceptions"] == 0 and all(alive.values()) else 1


def summarise(samples, logs, transitions, published, alive, args) -> dict:
    after_warmup = [s for s in samples if s["t"] >= 60] or samples
    growth = {}
    for k in ("detector", "follower"):
        first, last = after_warmup[0][k], samples[-1][k]
        growth[k] = 100.0 * (last - first) / first
    exceptions = 0
    for f in logs.values():
        f.flush()
        text = Path(f.name).read_text()
        exceptions += text.count("Traceback")
    return {"minutes": args.minutes, "rate_hz": args.rate, "embedder": args.embedder, "frames_published": published,
            "rss_mb_start": {k: after_warmup[0][k] / 2**20 for k in ("detector", "follower")},
            "rss_mb_end": {k: samples[-1][k] / 2**20 for k in ("detector", "follower")},
            "rss_growth_percent": growth, "exceptions": exceptions, "nodes_alive": alive,
            "state_transitions": [s for _, s in transitions], "logs": {k: f.name for k, f in logs.items()}}


def plot(samples, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    for k in ("detector", "follower"):
        ax.plot([s["t"] / 60 for s in samples], [s[k] / 2**20 for s in samples], label=k)
    ax.set_xlabel("minutes")
    ax.set_ylabel("RSS (MiB)")
    ax.set_title("reid_follow soak: node memory")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
