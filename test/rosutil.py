"""Test harness for ROS tests: an isolated middleware environment and a client node.

Every test process gets its own ROS domain and the SHM-only profile; /dev/shm segments that a
test creates are removed afterwards.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy not importable (run scripts/setup.sh)")
pytest.importorskip("vision_msgs.msg", reason="vision_msgs not built (run scripts/setup.sh)")

from rclpy.executors import MultiThreadedExecutor  # noqa: E402

from reid_follow.ros.middleware import middleware_env  # noqa: E402

SHM = Path("/dev/shm")


def shm_entries() -> set[str]:
    return {p.name for p in SHM.glob("*fastdds*")} if SHM.is_dir() else set()


def clean_shm(before: set[str]) -> None:
    for name in shm_entries() - before:
        (SHM / name).unlink(missing_ok=True)


def isolated_env(domain_id: int) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ROS_AUTOMATIC_DISCOVERY_RANGE", None)
    env.pop("FASTDDS_DEFAULT_PROFILES_FILE", None)
    env.update(middleware_env(domain_id))
    env["ROS_LOG_DIR"] = str(Path(os.environ.get("TMPDIR", "/tmp")) / "reid_follow_test_logs")
    return env


def new_domain() -> int:
    return random.Random(os.getpid() ^ time.time_ns()).randint(100, 200)


@contextmanager
def ros_context(domain_id: int):
    """An rclpy context on ``domain_id`` with the SHM-only profile, and an executor thread."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(isolated_env(domain_id))
    before = shm_entries()
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=domain_id)
    executor = MultiThreadedExecutor(num_threads=3, context=ctx)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        yield ctx, executor
    finally:
        executor.shutdown()
        rclpy.shutdown(context=ctx)
        thread.join(timeout=5)
        os.environ.clear()
        os.environ.update(saved)
        clean_shm(before)


def wait_for(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def call_trigger(node, name: str, timeout: float = 10.0):
    """Call a std_srvs/Trigger service as `ros2 service call NAME std_srvs/srv/Trigger` does."""
    from std_srvs.srv import Trigger

    client = node.create_client(Trigger, name)
    assert client.wait_for_service(timeout_sec=timeout), f"service {name} not available"
    # wait_for_service sees the server's request reader; until the server has also matched this
    # client's response reader a reply can be lost (DDS discovery is per endpoint), so a call that
    # got no answer in a few seconds is sent again.
    deadline = time.monotonic() + timeout
    while True:
        future = client.call_async(Trigger.Request())
        try:
            wait_for(future.done, min(5.0, max(deadline - time.monotonic(), 0.1)), f"reply from {name}")
            break
        except AssertionError:
            if time.monotonic() >= deadline:
                raise
    node.destroy_client(client)
    return future.result()


def start_runner(domain_id: int, *args: str) -> subprocess.Popen:
    """`reid-follow run ARGS` in its own process on ``domain_id``."""
    return subprocess.Popen([sys.executable, "-m", "reid_follow.cli", "run", *args], env=isolated_env(domain_id),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop_process(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        proc.send_signal(2)  # SIGINT: clean shutdown removes the process's SHM segments
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.stdout.read() if proc.stdout else ""
