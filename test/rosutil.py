"""The ROS tests' side of reid_follow.ros.harness (the one harness the demo, soak and bench use too).

Every test process gets its own ROS domain and the SHM-only profile; /dev/shm segments that a
test created and no live process uses any more are removed afterwards; every wait is on a
condition, with a timeout that scales with the machine's load.
"""
from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy not importable (run scripts/setup.sh)")
pytest.importorskip("vision_msgs.msg", reason="vision_msgs not built (run scripts/setup.sh)")

from reid_follow.ros import harness  # noqa: E402
from reid_follow.ros.harness import (  # noqa: E402,F401  (re-exported for the tests)
    Diagnostics,
    TriggerClient,
    call_trigger,
    new_domain,
    scaled,
    stop,
    wait_for,
    wait_until_quiet,
)

LOG_DIR = str(Path(os.environ.get("TMPDIR", "/tmp")) / "reid_follow_test_logs")


def shm_entries() -> set[str]:
    return {p.name for p in harness.SHM_DIR.glob("fastdds_*")} if harness.SHM_DIR.is_dir() else set()


def clean_shm(before: set[str]) -> None:
    """Remove the Fast DDS segments created since ``before`` whose owner has exited (never live ones)."""
    harness.remove_dead_shm(shm_entries() - before)


def isolated_env(domain_id: int) -> dict[str, str]:
    """harness.isolated_env with the nodes' logs out of the home directory."""
    return {**harness.isolated_env(domain_id), "ROS_LOG_DIR": LOG_DIR}


@contextmanager
def ros_context(domain_id: int):
    """harness.client_context, removing the SHM segments it created afterwards."""
    before = shm_entries()
    os.environ.setdefault("ROS_LOG_DIR", LOG_DIR)
    try:
        with harness.client_context(domain_id) as (ctx, executor):
            yield ctx, executor
    finally:
        clean_shm(before)


def start_runner(domain_id: int, *args: str) -> subprocess.Popen:
    """`reid-follow run ARGS` in its own process on ``domain_id``, output piped for stop_process."""
    os.environ.setdefault("ROS_LOG_DIR", LOG_DIR)
    return harness.start_stack(domain_id, args)


def stop_process(proc: subprocess.Popen) -> str:
    """Stop a process from start_runner; its output."""
    return stop(proc)
