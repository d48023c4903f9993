"""Shared fixtures: the development data beside the checkout (../shared), skipped where absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# The same examples on every run, so CI passes or fails on the code, not on the draw; explore new
# inputs with `HYPOTHESIS_PROFILE=explore bash scripts/test.sh`.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("REID_FOLLOW_SHARED", REPO.parent / "shared"))


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"development data not found: {path} (../shared beside the checkout)")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: MOTChallenge sequences with ground truth."""
    return _need(SHARED / "data")


@pytest.fixture(scope="session")
def shared_models() -> Path:
    """../shared/models: osnet_x0_25_msmt17.onnx and yolox_nano.onnx."""
    return _need(SHARED / "models")


@pytest.fixture(scope="session")
def mot16_05(shared_data: Path) -> Path:
    return _need(shared_data / "MOT16-05-first48")


@pytest.fixture(scope="session")
def pathtrack(shared_data: Path) -> Path:
    return _need(shared_data / "PathTrack-UU-test")


# rclpy loads ROS's tracetools, whose LTTng-UST library creates its per-user "wait" files here in
# every process (lttng-ust-wait-<abi>, lttng-ust-wait-<abi>-<uid>); they outlive the processes.
# Noted here, at conftest import: collecting the ROS tests imports rclpy in this process already.
LTTNG_WAIT = "lttng-ust-wait-*"
SHM = Path("/dev/shm")
LTTNG_BEFORE = {p.name for p in SHM.glob(LTTNG_WAIT)} if SHM.is_dir() else set()


@pytest.fixture(scope="session", autouse=True)
def remove_shm_segments():
    """Remove the /dev/shm files this session's processes left: Fast DDS segments (also after a
    killed node), only those whose owner has exited, as other runs on this machine may be using
    theirs; LTTng-UST's wait files when this session created them (a process that maps one keeps
    its mapping; they matter only to a tracing session)."""
    before = {p.name for p in SHM.glob("fastdds_*")} if SHM.is_dir() else set()
    yield
    if SHM.is_dir():
        from reid_follow.ros.harness import remove_dead_shm  # no rclpy import

        remove_dead_shm({p.name for p in SHM.glob("fastdds_*")} - before)
        for wait in SHM.glob(LTTNG_WAIT):
            if wait.name not in LTTNG_BEFORE:
                wait.unlink(missing_ok=True)
