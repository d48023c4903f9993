"""One harness for everything that drives the stack from outside: the demo, soak, `bench ros` and the tests.

It starts the nodes in their own processes on a private ROS domain with the SHM-only profile,
waits on conditions (a service that answers, a counter that stops moving) instead of sleeping,
re-sends Trigger calls whose reply was lost while discovery was still going on, and scales every
timeout with how busy the machine is, so that the same code passes on an idle laptop and on a
CI runner shared with other jobs.
"""
from __future__ import annotations

import fcntl
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from reid_follow.ros.graph import StackArguments, describe
from reid_follow.ros.middleware import middleware_env

MAX_LOAD_FACTOR = 6.0


class WaitTimeout(AssertionError):
    """A condition the caller waited for did not come (an AssertionError, so a test reports it as a failure)."""


def load_factor() -> float:
    """How much slower than on an idle machine things run now: the 1-minute load average per core,
    between 1 and MAX_LOAD_FACTOR, times ``$REID_FOLLOW_TIMEOUT_SCALE`` (for slow CI runners)."""
    try:
        load = os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:
        load = 1.0
    return min(max(load, 1.0), MAX_LOAD_FACTOR) * float(os.environ.get("REID_FOLLOW_TIMEOUT_SCALE", "1"))


def scaled(timeout: float) -> float:
    """``timeout`` (seconds on an idle machine) for the machine as busy as it is now."""
    return timeout * load_factor()


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition",
             alive: subprocess.Popen | None = None) -> None:
    """Poll ``predicate`` until it holds; fail after the scaled ``timeout``, or at once when the
    process ``alive`` has exited (waiting longer for a dead node only hides its exit code)."""
    limit = scaled(timeout)
    deadline = time.monotonic() + limit
    while not predicate():
        if alive is not None and alive.poll() is not None:
            raise WaitTimeout(f"the process exited (code {alive.returncode}) while waiting for {what}")
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {limit:.0f}s waiting for {what}")
        time.sleep(0.02)


def wait_until_quiet(value: Callable[[], object], quiet_s: float, timeout: float, what: str) -> None:
    """Wait until ``value()`` has not changed for ``quiet_s`` seconds (e.g. the last frame is done)."""
    seen = {"value": value(), "at": time.monotonic()}

    def quiet() -> bool:
        now = value()
        if now != seen["value"]:
            seen.update(value=now, at=time.monotonic())
        return time.monotonic() - seen["at"] > quiet_s

    wait_for(quiet, timeout, what)


DOMAIN_LOCKS = Path(tempfile.gettempdir()) / "reid_follow_domains"
_held_domains: list[IO] = []  # lock files held for this process's life


SHM_DIR = Path("/dev/shm")


def remove_dead_shm(names: set[str] | None = None) -> int:
    """Remove the Fast DDS shared-memory segments and ports (of ``names``, default all) whose owner
    has exited, as `fastdds shm clean` does: Fast DDS holds an flock on each one's ``_el``/``_sl``
    file while it is open.  A live one is never touched: another run on this machine may be using
    it (removing a live discovery port leaves its listeners deaf to new participants; the ROS
    tests' earlier clean-up of "every segment created during the run" did exactly that to runs
    beside them, which then waited minutes for a service that was up)."""
    if not SHM_DIR.is_dir():
        return 0
    removed = 0
    for lock in [*SHM_DIR.glob("fastdds_*_el"), *SHM_DIR.glob("fastdds_*_sl")]:
        base = lock.name[:-3]
        if names is not None and base not in names:
            continue
        try:
            with open(lock, "ab") as f:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # locked: its owner is alive
        for name in (base, lock.name, f"sem.{base}_mutex"):
            (SHM_DIR / name).unlink(missing_ok=True)
        removed += 1
    # A port whose listeners are all gone has no lock file left at all (Fast DDS removes the lock
    # file of a listener that closes, not the port), so the loop above never sees it; Fast DDS's own
    # clean-up counts such a port as a zombie too (seen: 4 ports left after a full test run).
    for port in SHM_DIR.glob("fastdds_port*"):
        base = port.name
        if base.endswith(("_el", "_sl")) or (names is not None and base not in names) \
                or (SHM_DIR / f"{base}_el").exists() or (SHM_DIR / f"{base}_sl").exists():
            continue
        for name in (base, f"sem.{base}_mutex"):
            (SHM_DIR / name).unlink(missing_ok=True)
        removed += 1
    return removed


def new_domain() -> int:
    """A ROS domain no other harness user on this machine holds, so that runs side by side (tests
    of several checkouts, a demo, a benchmark) never see each other's nodes: an exclusive flock on
    a file per domain, held until this process exits (its children use the domain too).  Random
    picks alone collided often enough to fail tests on a shared machine."""
    DOMAIN_LOCKS.mkdir(exist_ok=True)
    candidates = list(range(1, 233))  # Fast DDS's valid ROS_DOMAIN_ID range (its port arithmetic)
    random.Random(os.getpid() ^ time.time_ns()).shuffle(candidates)
    for domain in candidates:
        f = open(DOMAIN_LOCKS / f"{domain}.lock", "w")  # noqa: SIM115 - kept open: the lock is the open file
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            continue
        _held_domains.append(f)
        return domain
    raise RuntimeError(f"all ROS domains are held by other runs (locks in {DOMAIN_LOCKS})")


def isolated_env(domain_id: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default os.environ) on ``domain_id`` with the SHM-only profile and nothing of the
    user's middleware settings (a test or benchmark must not depend on them)."""
    env = dict(os.environ if base is None else base)
    for name in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "FASTDDS_DEFAULT_PROFILES_FILE", "REID_FOLLOW_MIDDLEWARE"):
        env.pop(name, None)
    env.update(middleware_env(domain_id))
    return env


@contextmanager
def client_context(domain_id: int) -> Iterator[tuple[object, object]]:
    """An rclpy context on ``domain_id`` with the SHM-only profile and an executor spinning in a
    thread: (context, executor).  Nodes created with ``context=`` and added to the executor get
    their callbacks while the caller blocks in wait_for or TriggerClient.call."""
    import rclpy
    from rclpy.executors import MultiThreadedExecutor

    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(isolated_env(domain_id, saved))
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


def start_stack(domain_id: int, args: Iterable[str] = (), log: IO | int | None = subprocess.PIPE) -> subprocess.Popen:
    """``reid-follow run ARGS`` (both nodes, one process) on ``domain_id``; its output to ``log``
    (default: a pipe that stop() returns)."""
    return subprocess.Popen([sys.executable, "-m", "reid_follow.cli", "run", *args], env=isolated_env(domain_id),
                            stdout=log, stderr=subprocess.STDOUT if log is not None else None, text=True)


def start_nodes(domain_id: int, stack: StackArguments, logs: dict[str, IO] | None = None) -> dict[str, subprocess.Popen]:
    """Each node of ``stack`` in its own process (per-node CPU and memory for soak and bench), with
    the parameter file, overrides and remappings that the launch file gives it."""
    from reid_follow.ros.runner import ros_args

    procs = {}
    for desc in describe(stack):
        cmd = [sys.executable, "-c", f"from reid_follow.ros.{desc.executable}_node import main; main()",
               *ros_args(desc)]
        for name, value in desc.overrides.items():
            cmd += ["-p", f"{name}:={value}"]
        log = (logs or {}).get(desc.name)
        procs[desc.name] = subprocess.Popen(cmd, env=isolated_env(domain_id), text=True,
                                            stdout=log if log is not None else subprocess.DEVNULL,
                                            stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL)
    return procs


def stop(procs: subprocess.Popen | Iterable[subprocess.Popen], timeout: float = 15.0) -> str:
    """SIGINT (a clean exit removes the node's SHM segments), kill what does not stop in time;
    returns what the processes wrote to their pipes."""
    procs = [procs] if isinstance(procs, subprocess.Popen) else list(procs)
    for p in procs:
        if p.poll() is None:
            p.send_signal(2)
    out = []
    for p in procs:
        try:
            p.wait(timeout=scaled(timeout))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        if p.stdout is not None and not p.stdout.closed:
            out.append(p.stdout.read())
    return "".join(out)


class TriggerClient:
    """A std_srvs/Trigger client as `ros2 service call NAME std_srvs/srv/Trigger` uses, which sends
    the call again when no reply came within ``resend_s``: wait_for_service sees the server's
    request reader, but until the server has also matched this client's response reader a reply
    can be lost (DDS discovery is per endpoint)."""

    def __init__(self, node, name: str, resend_s: float = 3.0) -> None:
        from std_srvs.srv import Trigger

        self.node, self.name, self.resend_s, self._request = node, name, resend_s, Trigger.Request
        self.client = node.create_client(Trigger, name)
        self._future, self._sent = None, 0.0

    def wait_for_service(self, timeout: float = 60.0, alive: subprocess.Popen | None = None) -> None:
        wait_for(lambda: self.client.wait_for_service(timeout_sec=0.2), timeout, f"service {self.name}", alive)

    def poll(self):
        """Non-blocking: send (or re-send a call unanswered for ``resend_s``); the reply once one came, else None."""
        if self._future is not None and self._future.done():
            future, self._future = self._future, None
            return future.result()
        if self._future is None or time.monotonic() - self._sent > scaled(self.resend_s):
            self._future, self._sent = self.client.call_async(self._request()), time.monotonic()
        return None

    def call(self, timeout: float = 10.0):
        """Blocking call (from a thread other than the executor's), re-sent while unanswered."""
        self.wait_for_service(timeout)
        self._future = None
        reply: dict = {}

        def answered() -> bool:
            reply["response"] = self.poll()
            return reply["response"] is not None

        wait_for(answered, timeout, f"a reply from {self.name}")
        return reply["response"]

    def destroy(self) -> None:
        self.node.destroy_client(self.client)


def call_trigger(node, name: str, timeout: float = 10.0):
    """One Trigger call with TriggerClient's re-sending; the response."""
    client = TriggerClient(node, name)
    try:
        return client.call(timeout)
    finally:
        client.destroy()


class Diagnostics:
    """The newest /diagnostics values of each reid_follow node ("reid_follow: follower" -> {key: value})."""

    def __init__(self, node, topic: str = "/diagnostics") -> None:
        from diagnostic_msgs.msg import DiagnosticArray

        self.values: dict[str, dict[str, str]] = {}
        node.create_subscription(DiagnosticArray, topic, self._on, 10)

    def _on(self, msg) -> None:
        for status in msg.status:
            self.values[status.name] = {kv.key: kv.value for kv in status.values}

    def count(self, node: str, key: str) -> int:
        """A counter of node ``node`` ("follower", "detector"); 0 before its first report."""
        return int(float(self.values.get(f"reid_follow: {node}", {}).get(key, 0)))
