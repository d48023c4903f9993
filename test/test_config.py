"""One configuration source: dataclasses == config/follow.yaml == declared ROS parameters == launch."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from reid_follow.config import NODE_CONFIGS, ConfigError, default_config_path, load_stack, render_yaml
from reid_follow.config_base import docs, flatten, flatten_mapping
from reid_follow.ros.graph import StackArguments, describe

REPO = Path(__file__).resolve().parents[1]


def load_launch_module():
    spec = importlib.util.spec_from_file_location("follow_launch", REPO / "launch" / "follow.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_yaml_keys_equal_dataclass_fields_and_file_is_generated():
    raw = yaml.safe_load(default_config_path().read_text())
    for node, cls in NODE_CONFIGS.items():
        assert set(flatten_mapping(raw[node]["ros__parameters"])) == set(flatten(cls()))
    assert default_config_path().read_text() == render_yaml(), "run `reid-follow config --write`"


def test_every_parameter_is_documented():
    for cls in NODE_CONFIGS.values():
        undocumented = [k for k, v in docs(cls).items() if len(v) < 10]
        assert not undocumented


def test_overrides_and_errors_name_the_parameter(tmp_path):
    s = load_stack(overrides=["follower.follow.enroll_rule=largest", "detector.score_threshold=0.6"])
    assert s.follower.follow.enroll_rule == "largest" and s.detector.score_threshold == 0.6
    with pytest.raises(ConfigError, match="follow.enroll_rule"):
        load_stack(overrides=["follower.follow.enroll_rule=leftmost"])
    with pytest.raises(ConfigError, match="unknown parameter.*no_such"):
        load_stack(overrides=["follower.no_such=1"])
    with pytest.raises(ConfigError, match="must be a number"):
        load_stack(overrides=["detector.score_threshold=high"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("follower:\n  ros__parameters:\n    pose:\n      person_height_m: -1\n")
    with pytest.raises(ConfigError, match="person_height_m"):
        load_stack(bad)
    bad.write_text("tracker:\n  ros__parameters: {}\n")
    with pytest.raises(ConfigError, match="unknown node 'tracker'"):
        load_stack(bad)
    bad.write_text("follower: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_stack(bad)


def test_declared_parameters_equal_fields():
    rclpy = pytest.importorskip("rclpy")
    pytest.importorskip("vision_msgs.msg")
    from rosutil import new_domain, ros_context

    from reid_follow.ros.runner import create_node

    with ros_context(new_domain()) as (ctx, _executor):
        for desc in describe(StackArguments(sets=["follower.embedder=none"])):
            node = create_node(desc, ctx)
            builtin = {"use_sim_time", "start_type_description_service"}  # rclpy's own
            declared = {name for name in node._parameters if name not in builtin}
            assert declared == set(flatten(NODE_CONFIGS[desc.name]())), desc.name
            node.destroy_node()
    del rclpy


def test_launch_file_and_runner_describe_the_same_nodes():
    launch = load_launch_module()
    values = {"image_topic": "/cam/image", "use_detector": "true", "embedder": "none", "device": "cpu"}
    from_launch = launch.node_descriptions(values)
    runner = describe(StackArguments(embedder="none", device="cpu",
                                     topics={**StackArguments().topics, "image_topic": "/cam/image"}))
    assert from_launch == runner
    names = [d.name for d in runner]
    assert names == ["detector", "follower"]
    follower = runner[1]
    assert ("image_raw", "/cam/image") in follower.remappings
    assert follower.remappings == [("image_raw", "/cam/image")]  # the rest keeps its relative name
    assert follower.overrides == {"device": "cpu", "embedder": "none"}
    assert [d.name for d in launch.node_descriptions({"use_detector": "false"})] == ["follower"]
    with pytest.raises(ValueError, match="unknown argument"):
        launch.node_descriptions({"imagetopic": "/x"})


def test_launch_description_with_launch_ros():
    pytest.importorskip("launch_ros", reason="launch_ros is not installable from PyPI; runs on a ROS 2 install")
    from launch import LaunchContext
    from launch_ros.actions import Node

    ld = load_launch_module().generate_launch_description()
    ctx = LaunchContext()
    nodes = []
    for entity in ld.entities:
        for sub in entity.visit(ctx) or []:
            if isinstance(sub, Node):
                nodes.append(sub)
    assert {n.node_executable for n in nodes} == {"detector", "follower"}


def test_ranges_devices_and_embedding_are_checked_like_every_value():
    from reid_follow.config_base import ranges

    for cls in NODE_CONFIGS.values():  # the defaults lie in their declared ranges
        for name, (low, high) in ranges(cls).items():
            value = flatten(cls())[name]
            assert (low is None or value >= low) and (high is None or value <= high), name
    with pytest.raises(ConfigError, match=r"sync_window_s' must be in \[0.05, 10.0\]"):
        load_stack(overrides=["follower.sync_window_s=0"])
    with pytest.raises(ConfigError, match="pose.smoothing' must be in"):
        load_stack(overrides=["follower.pose.smoothing=2"])
    for node in ("follower", "detector"):
        with pytest.raises(ConfigError, match="device must be auto, cpu or cuda"):
            load_stack(overrides=[f"{node}.device=gpu"])
    assert load_stack(overrides=["follower.device=cuda:1"]).follower.device == "cuda:1"
    with pytest.raises(ConfigError, match="max_batch"):
        load_stack(overrides=["follower.embedding.max_batch=0"])
    s = load_stack(overrides=["follower.embedding.flip=true", "follower.embedding.onnx_threads=2"])
    assert s.follower.embedding.flip and s.follower.embedding.onnx_threads == 2


def test_docs_parameter_table_is_generated_from_the_dataclass():
    """docs/follow.md's parameter table is `reid-follow config --markdown`: every follow.* parameter,
    its current default and its documentation (a stale table once hid a changed default)."""
    from reid_follow.config_base import markdown_table
    from reid_follow.follow.config import FollowConfig

    table = markdown_table(FollowConfig, "follow.")
    doc = (Path(__file__).resolve().parents[1] / "docs" / "follow.md").read_text()
    assert table in doc, "docs/follow.md's parameter table is stale: paste `reid-follow config --markdown`"
    assert table.count("\n") == len(flatten(FollowConfig())) + 2
