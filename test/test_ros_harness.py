"""The harness's guarantees for runs side by side on one machine: private domains, and clean-up that
never removes shared memory a live process still uses."""
from __future__ import annotations

import fcntl
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
