"""The package as ROS tools see it: launch description, package.xml, middleware profiles, installed executables.

`launch` / `launch_ros` are not installable here, so the launch file is imported with small
stand-ins for them (recording what it constructs) and its OpaqueFunction is run: that is the
code path `ros2 launch` takes, minus process start-up.
"""
from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from reid_follow.ros.middleware import CHOICE_VARIABLE, middleware_env, profile_path, udp_peers_profile

REPO = Path(__file__).resolve().parents[1]


class Recorded:
    """A launch action stand-in: keeps its constructor arguments."""

    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs = args, kwargs


class LaunchConfiguration:
    def __init__(self, name: str) -> None:
        self.name = name

    def perform(self, context: dict) -> str:
        return context[self.name]


@pytest.fixture
def launch_file(monkeypatch):
    """launch/follow.launch.py imported with stand-ins for launch and launch_ros."""
    fakes = {
        "launch": {"LaunchDescription": Recorded},
        "launch.actions": {"DeclareLaunchArgument": Recorded, "OpaqueFunction": Recorded,
                           "SetEnvironmentVariable": Recorded},
        "launch.substitutions": {"LaunchConfiguration": LaunchConfiguration},
        "launch_ros": {},
        "launch_ros.actions": {"Node": Recorded},
    }
    for name, attrs in fakes.items():
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("follow_launch_under_test", REPO / "launch" / "follow.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def launched_nodes(launch_file, **values: str) -> list[Recorded]:
    """Run the launch description's OpaqueFunction with these argument values (others: defaults)."""
    ld = launch_file.generate_launch_description()
    declared = [a for a in ld.args[0] if isinstance(a, Recorded) and "default_value" in a.kwargs]
    context = {a.args[0]: a.kwargs["default_value"] for a in declared}
    unknown = set(values) - set(context)
    assert not unknown, f"not launch arguments: {unknown}"
    context.update(values)
    opaque = [a for a in ld.args[0] if "function" in a.kwargs]
    assert len(opaque) == 1
    return opaque[0].kwargs["function"](context)


def test_launch_sets_middleware_per_node_never_process_wide(launch_file, monkeypatch):
    monkeypatch.delenv("FASTDDS_DEFAULT_PROFILES_FILE", raising=False)
    monkeypatch.delenv("RMW_IMPLEMENTATION", raising=False)
    before = dict(os.environ)
    actions = launched_nodes(launch_file)
    assert dict(os.environ) == before                              # the launch process is untouched
    assert [a.kwargs["name"] for a in actions] == ["detector", "follower"]  # only nodes, no SetEnvironmentVariable
    for node in actions:
        env = node.kwargs["additional_env"]
        assert env["FASTDDS_DEFAULT_PROFILES_FILE"] == str(profile_path())
        assert env["RMW_IMPLEMENTATION"] == "rmw_fastrtps_cpp" and env[CHOICE_VARIABLE] == "auto"
        assert "namespace" not in node.kwargs                      # the pushed namespace applies
        assert node.kwargs["remappings"] == []                     # relative names, nothing global


def test_launch_keeps_an_exported_profile_unless_asked(launch_file, monkeypatch, tmp_path):
    mine = tmp_path / "mine.xml"
    mine.write_text(udp_peers_profile("10.0.0.1", ["10.0.0.2"]))
    monkeypatch.setenv("FASTDDS_DEFAULT_PROFILES_FILE", str(mine))
    for node in launched_nodes(launch_file):                       # auto: the user's profile wins
        assert "FASTDDS_DEFAULT_PROFILES_FILE" not in node.kwargs["additional_env"]
    for node in launched_nodes(launch_file, middleware_profile="shm"):
        assert node.kwargs["additional_env"]["FASTDDS_DEFAULT_PROFILES_FILE"] == str(profile_path())
    for node in launched_nodes(launch_file, middleware_profile=str(mine)):
        assert node.kwargs["additional_env"]["FASTDDS_DEFAULT_PROFILES_FILE"] == str(mine)
    for node in launched_nodes(launch_file, middleware_profile="system"):
        assert node.kwargs["additional_env"] == {CHOICE_VARIABLE: "system"}
    with pytest.raises(FileNotFoundError, match="profile not found"):
        launched_nodes(launch_file, middleware_profile=str(tmp_path / "missing.xml"))


def test_launch_namespace_and_topic_arguments(launch_file):
    actions = launched_nodes(launch_file, namespace="robot1", image_topic="/camera/image_raw", use_detector="false")
    (follower,) = actions
    assert follower.kwargs["namespace"] == "robot1"
    assert follower.kwargs["remappings"] == [("image_raw", "/camera/image_raw")]


def test_middleware_profiles_are_valid_xml():
    """Fast DDS rejects a profile it cannot parse; `--` inside a comment is not XML."""
    texts = {p.name: p.read_text() for p in (REPO / "config").glob("*.xml")}
    texts["generated"] = udp_peers_profile("192.168.10.2", ["192.168.10.3", "192.168.10.4"])
    assert {"fastdds-shm-only.xml", "fastdds-udp-peers.example.xml"} <= set(texts)
    ns = {"dds": "http://www.eprosima.com"}
    for name, text in texts.items():
        root = ET.fromstring(text.encode())
        assert root.tag == "{http://www.eprosima.com}dds", name
        assert root.find("dds:profiles/dds:participant", ns).get("is_default_profile") == "true", name
    peers = ET.fromstring(texts["generated"].encode())
    addresses = [a.text for a in peers.iterfind(".//dds:initialPeersList//dds:address", ns)]
    assert addresses == ["192.168.10.3", "192.168.10.4"]
    # the example is what the command writes for its addresses (kept in step with the code)
    assert texts["fastdds-udp-peers.example.xml"] == udp_peers_profile("10.0.0.1", ["10.0.0.2"])


def test_middleware_command_writes_a_parseable_profile(tmp_path):
    out = tmp_path / "udp.xml"
    subprocess.run([sys.executable, "-m", "reid_follow.cli", "middleware", "--local", "10.1.2.3",
                    "--peers", "10.1.2.4", "--out", str(out)], check=True, capture_output=True, timeout=60)
    ET.parse(out)
    assert middleware_env(7)["ROS_DOMAIN_ID"] == "7"


def test_package_xml_declares_what_the_code_imports():
    """REP 149 format 3; every ROS package and Python library the nodes and tools import has a
    dependency; nothing declared that nothing uses."""
    root = ET.parse(REPO / "package.xml").getroot()
    assert root.tag == "package" and root.get("format") == "3"
    for tag in ("name", "version", "description", "maintainer", "license"):
        assert (root.findtext(tag) or "").strip(), tag
    assert root.findtext("name") == "reid_follow"
    assert root.find("maintainer").get("email")
    assert root.findtext("export/build_type") == "ament_python"
    deps = {e.text for e in root if e.tag in ("depend", "exec_depend")}
    tests = {e.text for e in root if e.tag == "test_depend"}
    imported = set()
    for path in (REPO / "reid_follow").rglob("*.py"):
        for line in path.read_text().splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] in ("import", "from"):
                imported.add(words[1].split(".")[0].rstrip(","))
    ros = {m for m in imported if m.endswith(("_msgs", "_srvs", "_interfaces")) or m in ("rclpy",)}
    assert ros <= deps, ros - deps
    python = {"numpy": "python3-numpy", "scipy": "python3-scipy", "cv2": "python3-opencv", "yaml": "python3-yaml",
              "tqdm": "python3-tqdm", "torch": "python3-torch", "torchvision": "python3-torchvision",
              "onnxruntime": "python3-onnxruntime-pip", "psutil": "python3-psutil",
              "matplotlib": "python3-matplotlib"}
    for module, key in python.items():
        assert module in imported and key in deps, (module, key)
    declared_ros = {d for d in deps if d.endswith(("_msgs", "_srvs", "_interfaces"))}
    assert declared_ros <= imported, declared_ros - imported   # e.g. no visualization_msgs without markers
    assert "python3-pytest" in tests


def test_setup_declares_pytest_as_the_test_extra():
    """colcon test picks pytest from extras_require['test'] (tests_require is gone from setuptools)."""
    call = next(n for n in ast.walk(ast.parse((REPO / "setup.py").read_text()))
                if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup")
    keywords = {k.arg: k.value for k in call.keywords}
    assert "tests_require" not in keywords
    extras = ast.literal_eval(keywords["extras_require"])
    assert "pytest" in extras["test"]


def test_executables_are_where_ros2_run_looks():
    """<prefix>/lib/reid_follow/<executable> for each console script (setup.cfg for colcon,
    scripts/setup.sh for the venv), and each answers --help without starting a node."""
    scripts = [ep.name for ep in importlib.metadata.distribution("reid_follow").entry_points
               if ep.group == "console_scripts"]
    assert {"follower", "detector", "reid-follow"} <= set(scripts)
    libexec = Path(sys.prefix) / "lib" / "reid_follow"
    if not libexec.is_dir() and not (Path(sys.prefix) / ".reid_follow_setup").is_file():
        pytest.skip(f"{libexec} not there and this venv was not made by scripts/setup.sh")
    for name in scripts:
        exe = libexec / name
        assert exe.is_file() and os.access(exe, os.X_OK), exe
        run = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        assert "usage:" in run.stdout, run.stdout
    assert "ros2 run reid_follow follower" in subprocess.run(
        [str(libexec / "follower"), "--help"], capture_output=True, text=True, timeout=120).stdout
    cfg = (REPO / "setup.cfg").read_text()
    assert "install_scripts=$base/lib/reid_follow" in cfg
