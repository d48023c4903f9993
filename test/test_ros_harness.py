"""The harness's guarantees for runs side by side on one machine: private domains, and clean-up that
never removes shared memory a live process still uses."""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys

import pytest

from rosutil import ros_context, shm_entries

from reid_follow.ros import harness

pytestmark = pytest.mark.ros


def test_domains_are_held_until_the_process_exits():
    mine = {harness.new_domain() for _ in range(3)}
    assert len(mine) == 3 and all(1 <= d <= 232 for d in mine)
    # another process cannot take them while this one lives
    probe = ("import fcntl, sys\n"
             "f = open(sys.argv[1], 'w')\n"
             "try:\n    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept BlockingIOError:\n    sys.exit(3)\n")
    for d in mine:
        run = subprocess.run([sys.executable, "-c", probe, str(harness.DOMAIN_LOCKS / f"{d}.lock")], timeout=30)
        assert run.returncode == 3, d
    other = subprocess.run([sys.executable, "-c", "from reid_follow.ros.harness import new_domain; print(new_domain())"],
                           capture_output=True, text=True, timeout=60, check=True)
    assert int(other.stdout) not in mine


def test_clean_up_keeps_live_segments_and_removes_dead_ones():
    import rclpy

    before = shm_entries()
    with ros_context(harness.new_domain()) as (ctx, executor):
        node = rclpy.create_node("shm_probe", context=ctx)
        executor.add_node(node)
        live = shm_entries() - before
        assert any(name.endswith("_el") for name in live), live   # this participant's segment and lock
        assert harness.remove_dead_shm(live) == 0                   # held: nothing removed
        assert live <= shm_entries()
        with open(harness.SHM_DIR / next(n for n in live if n.endswith("_el")), "ab") as f:
            with pytest.raises(OSError):
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)        # Fast DDS's own lock, as checked
        node.destroy_node()
    # ros_context removed them once the participant was gone
    assert not any(name.endswith("_el") and name in live for name in shm_entries())


def test_a_port_no_listener_holds_is_removed_and_a_held_one_kept():
    """A Fast DDS port segment outlives its listeners' lock files (a full test run left 4 such ports
    and their mutexes in /dev/shm): with no lock file left it is dead and removed; while a listener
    holds its lock file it is kept."""
    port = f"fastdds_port9{os.getpid() % 100000:05d}"
    files = [harness.SHM_DIR / port, harness.SHM_DIR / f"sem.{port}_mutex"]
    for f in files:
        f.write_bytes(b"\0" * 32)
    lock = harness.SHM_DIR / f"{port}_sl"
    try:
        with open(lock, "ab") as held:
            fcntl.flock(held, fcntl.LOCK_SH | fcntl.LOCK_NB)               # a live shared listener
            assert harness.remove_dead_shm({port}) == 0 and all(f.exists() for f in files)
        lock.unlink()                                                        # it closed: no lock file left
        assert harness.remove_dead_shm({port}) == 1 and not any(f.exists() for f in files)
    finally:
        for f in [*files, lock]:
            f.unlink(missing_ok=True)


class _Future:
    def __init__(self) -> None:
        self.response = None

    def done(self) -> bool:
        return self.response is not None

    def result(self):
        return self.response


class _Client:
    """A Trigger client whose calls are answered only when the test says so (a lost reply = never)."""

    def __init__(self) -> None:
        self.sent: list[_Future] = []

    def call_async(self, _request) -> _Future:
        self.sent.append(_Future())
        return self.sent[-1]


class _Node:
    def __init__(self) -> None:
        self.client = _Client()

    def create_client(self, _srv_type, _name):
        return self.client


def test_trigger_client_resends_a_call_whose_reply_was_lost(monkeypatch):
    """The reply to a call sent before discovery finished can be lost: TriggerClient sends again
    after resend_s (scaled with the load) and returns the first reply that comes."""
    now = {"t": 100.0}
    monkeypatch.setattr(harness.time, "monotonic", lambda: now["t"])
    monkeypatch.setattr(harness, "load_factor", lambda: 1.0)
    node = _Node()
    client = harness.TriggerClient(node, "/enroll_target", resend_s=3.0)
    assert client.poll() is None and len(node.client.sent) == 1
    now["t"] += 2.0
    assert client.poll() is None and len(node.client.sent) == 1      # still waiting for the first
    now["t"] += 1.5
    assert client.poll() is None and len(node.client.sent) == 2      # unanswered for 3.5 s: sent again
    node.client.sent[1].response = "reply"
    assert client.poll() == "reply"
    assert client.poll() is None and len(node.client.sent) == 3      # the next poll is a new call


def test_one_harness_starts_the_nodes():
    """The demo, soak, `bench ros` and the tests start the stack and wait for its services through
    reid_follow.ros.harness only: no second copy of either anywhere else (`bench ros` sends its own
    single calls on the harness's client to time each one)."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    spawners = {"\"reid_follow.cli\", \"run\"", "_node import main", "wait_for_service(timeout_sec"}
    found = {}
    for path in [*(repo / "reid_follow").rglob("*.py"), *(repo / "test").glob("*.py")]:
        text = path.read_text()
        hits = [s for s in spawners if s in text]
        if hits:
            found[str(path.relative_to(repo))] = sorted(hits)
    allowed = {"reid_follow/ros/harness.py", "test/test_ros_harness.py"}
    assert set(found) <= allowed, {k: v for k, v in found.items() if k not in allowed}
    for module in ("reid_follow/commands/demo.py", "reid_follow/commands/soak.py", "reid_follow/bench/ros.py",
                   "test/rosutil.py"):
        assert "harness" in (repo / module).read_text(), module
