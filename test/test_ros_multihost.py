"""Two computers: the follower in one network namespace, camera replay + client in another, over the
shipped UDP-peers profile.  The namespaces and their veth pair are created here (private addresses
inside them only); no real interface is touched."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

from rosutil import isolated_env, new_domain, stop_process

from reid_follow.bagfile import make_bag
from reid_follow.ros.middleware import udp_peers_profile

pytestmark = pytest.mark.ros
ADDR = {"robot": "10.231.7.1", "camera": "10.231.7.2"}


def run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, text=True)


@pytest.fixture
def namespaces():
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to create network namespaces")
    tag = uuid.uuid4().hex[:6]
    names = {k: f"rf{k[0]}{tag}" for k in ADDR}
    veth = {k: f"v{k[0]}{tag}" for k in ADDR}
    try:
        for n in names.values():
            run("ip", "netns", "add", n)
        run("ip", "link", "add", veth["robot"], "type", "veth", "peer", "name", veth["camera"])
        for k in ADDR:
            run("ip", "link", "set", veth[k], "netns", names[k])
            run("ip", "-n", names[k], "addr", "add", f"{ADDR[k]}/24", "dev", veth[k])
            run("ip", "-n", names[k], "link", "set", veth[k], "up")
            run("ip", "-n", names[k], "link", "set", "lo", "up")
    except subprocess.CalledProcessError as e:
        for n in names.values():
            subprocess.run(["ip", "netns", "del", n], capture_output=True)
        pytest.skip(f"cannot create network namespaces here: {e.stderr.strip()}")
    yield names
    for n in names.values():
        subprocess.run(["ip", "netns", "del", n], capture_output=True)


def test_follower_and_camera_on_two_computers(namespaces, tmp_path, mot16_05):
    bag = tmp_path / "bag"
    make_bag(mot16_05, bag, mot16_05 / "det" / "det.txt")
    domain = new_domain()
    env = {}
    for k, other in (("robot", "camera"), ("camera", "robot")):
        profile = tmp_path / f"{k}.xml"
        profile.write_text(udp_peers_profile(ADDR[k], [ADDR[other]]))
        e = isolated_env(domain)
        e.pop("FASTDDS_BUILTIN_TRANSPORTS")
        e["FASTDDS_DEFAULT_PROFILES_FILE"] = str(profile)
        env[k] = e
    robot = subprocess.Popen(["ip", "netns", "exec", namespaces["robot"], sys.executable, "-m", "reid_follow.cli",
                              "run", "--no-detector", "--set", "follower.embedder=none"],
                             env=env["robot"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        peer = subprocess.run(["ip", "netns", "exec", namespaces["camera"], sys.executable,
                               os.path.join(os.path.dirname(__file__), "netns_peer.py"), str(bag), "6"],
                              env=env["camera"], capture_output=True, text=True, timeout=180)
    finally:
        log = stop_process(robot)
    lines = [line for line in peer.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, peer.stdout + peer.stderr + log
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["service"] and result["subscribed"] and result["enroll"], result
    # best effort over UDP: with the profile's 4 MiB socket buffers all 48 frames arrived in 6 of 7
    # measured runs, 16 in the other (20-32 with the OS defaults); the bound allows such a run
    assert result["processed"] >= 15 and result["tracking"] and result["poses"] >= 8, json.dumps(result)
    assert result["frame_ids"] == ["camera_optical_frame"]
