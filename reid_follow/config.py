"""One source of every parameter: the stack's dataclasses, ``config/follow.yaml`` and overrides.

Core sections (``follow``, ``pose``) live beside the code that uses them and are composed here;
node-level fields (topics, device, models) are declared here.  The node ``declare_parameter``
calls, ``config/follow.yaml``, the launch file, the in-process runner and the CLI all derive from
:class:`StackConfig`; nothing restates a default.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import re

from reid_follow.config_base import ConfigError, flatten_mapping, docs, flatten, from_flat, param, section
from reid_follow.follow.config import FollowConfig
from reid_follow.pose import PoseConfig
from reid_follow.reid.config import EmbedderConfig

DEVICES = re.compile(r"auto|cpu|cuda(:\d+)?")


def check_device(name: str, device: str) -> None:
    """``auto``, ``cpu`` or ``cuda[:i]``: anything else (``gpu``, ``cuda0``) is an error at start,
    not a silent CPU fallback."""
    if not DEVICES.fullmatch(device):
        raise ConfigError(f"{name} must be auto, cpu or cuda[:index], got {device!r}")

# --------------------------------------------------------------------------------------------


@dataclass
class DetectorConfig:
    """Parameters of the ``detector`` node."""

    detector_model: str = param(
        "hog", "Person detector: 'hog' (OpenCV's built-in HOG people detector, no files needed) or "
               "'onnx:/path/model.onnx' (a YOLOX-style ONNX model; person = class 0).")
    score_threshold: float = param(0.3, "Detections with a lower score are dropped.", 0.0, 1.0)
    nms_iou: float = param(0.45, "IoU above which overlapping person boxes are suppressed (NMS).", 0.0, 1.0)
    resize_width: int = param(
        0, "HOG only: frames are resized to this width before detection; boxes are reported in the "
           "original pixels. HOG finds people at least 128 px tall: upscale footage of small people, "
           "downscale large frames for speed. 0 = native size.", 0)
    hog_min_margin: float = param(
        0.7, "HOG only: smallest SVM margin of a kept detection. HOG's false positives (posts, door "
             "frames, two people as one tall box) have small margins: measured on MOT16-05, margin >= 0.7 "
             "keeps 29 of 31 true detections and halves the false ones; on vtest.avi every false box "
             "scored <= 0.62, every person >= 0.87.")
    device: str = param("auto", "Compute device for ONNX detectors: auto | cpu | cuda[:i].")

    def validate(self) -> None:
        if not (self.detector_model == "hog" or self.detector_model.startswith("onnx:")):
            raise ConfigError(f"detector_model must be 'hog' or 'onnx:/path', got {self.detector_model!r}")
        check_device("device", self.device)


@dataclass
class FollowerConfig:
    """Parameters of the ``follower`` node."""

    embedder: str = param(
        "default", "Appearance embedder: 'default' (shipped, no downloads), 'none' (motion only), "
                   "'torch:MODEL[:CHECKPOINT]' or 'onnx:/path/model.onnx'.")
    device: str = param("auto", "Compute device for the embedder: auto | cpu | cuda[:i].")
    sync_window_s: float = param(
        1.0, "Images (and depth images) are kept this long, in stamp time, for the detection array with "
             "the same stamp: must exceed the detector's latency (a CPU detector: 0.1-0.4 s). Memory: "
             "the camera's frames of this span.", 0.05, 10.0)
    depth_tolerance_s: float = param(
        0.02, "An aligned depth image (depth/image_raw, optional) goes with the image whose stamp is "
              "nearest within this (s); 0 = only the same stamp.", 0.0, 1.0)
    status_period_s: float = param(
        1.0, "The status topic (transient local) is published on every change and again at this "
             "period, so a late subscriber and a lossy link still see the state.", 0.1, 60.0)
    fx: float = param(0.0, "Focal length x (px) used when no camera_info has arrived; 0 = derive "
                           "from horizontal_fov_deg and the image width.", 0.0)
    fy: float = param(0.0, "Focal length y (px) used without camera_info; 0 = same as fx.", 0.0)
    cx: float = param(0.0, "Principal point x (px) without camera_info; 0 = image centre.", 0.0)
    cy: float = param(0.0, "Principal point y (px) without camera_info; 0 = image centre.", 0.0)
    horizontal_fov_deg: float = param(60.0, "Horizontal field of view assumed when neither "
                                            "camera_info nor fx is given.", 1.0, 179.0)
    publish_debug_image: bool = param(False, "Publish an annotated image on debug_image.")
    embedding: EmbedderConfig = section(EmbedderConfig, "How the embedder runs (batching, flip, fp16, threads).")
    follow: FollowConfig = section(FollowConfig, "Tracking, gallery and re-acquisition.")
    pose: PoseConfig = section(PoseConfig, "Target position estimate published on target_pose.")

    def validate(self) -> None:
        check_device("device", self.device)


@dataclass
class StackConfig:
    """Both nodes' parameters, as in ``config/follow.yaml``."""

    detector: DetectorConfig = section(DetectorConfig, "The detector node.")
    follower: FollowerConfig = section(FollowerConfig, "The follower node.")


NODE_CONFIGS: dict[str, type] = {"detector": DetectorConfig, "follower": FollowerConfig}


def default_config_path() -> Path:
    """``config/follow.yaml``: from the source tree, else the installed share directory."""
    here = Path(__file__).resolve().parent.parent / "config" / "follow.yaml"
    if here.is_file():
        return here
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory("reid_follow")) / "config" / "follow.yaml"


def load_stack(path: str | Path | None = None, overrides: list[str] | None = None) -> StackConfig:
    """Read a ROS parameter file (``node: ros__parameters: …``) plus ``node.param=value`` overrides."""
    path = Path(path) if path else default_config_path()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except OSError as e:
        raise ConfigError(f"cannot read parameter file {path}: {e}") from e
    except (yaml.YAMLError, ValueError, RecursionError) as e:  # ValueError: not UTF-8, int over 4300 digits
        raise ConfigError(f"parameter file {path} is not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"parameter file {path}: top level must be a mapping of node names")
    per_node: dict[str, dict[str, Any]] = {}
    for node, body in raw.items():
        if node not in NODE_CONFIGS:
            raise ConfigError(f"parameter file {path}: unknown node '{node}'; valid: {sorted(NODE_CONFIGS)}")
        if not isinstance(body, dict) or not isinstance(body.get("ros__parameters", {}), dict):
            raise ConfigError(f"parameter file {path}: '{node}' needs a 'ros__parameters' mapping")
        try:
            per_node[node] = flatten_mapping(body.get("ros__parameters") or {})
        except ConfigError as e:
            raise ConfigError(f"parameter file {path}: {e}") from None
    for item in overrides or []:
        key, sep, value = item.partition("=")
        node, dot, name = key.partition(".")
        if not sep or not dot or node not in NODE_CONFIGS:
            raise ConfigError(f"override {item!r} must look like node.param=value with node in "
                              f"{sorted(NODE_CONFIGS)}")
        try:
            per_node.setdefault(node, {})[name] = yaml.safe_load(value) if value else ""
        except (yaml.YAMLError, ValueError, RecursionError) as e:
            raise ConfigError(f"override {item!r}: the value is not valid YAML: {e}") from None
    try:
        return StackConfig(**{n: from_flat(cls, per_node.get(n, {})) for n, cls in NODE_CONFIGS.items()})
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def render_yaml(stack: StackConfig | None = None) -> str:
    """The ROS parameter file for ``stack`` (defaults if None), each parameter with its doc."""
    stack = stack or StackConfig()
    lines = ["# reid_follow parameters (ROS 2 parameter file). Generated from reid_follow/config.py by",
             "# `reid-follow config --write`; edit values freely, a test checks the keys stay in sync."]
    for node, cls in NODE_CONFIGS.items():
        obj = getattr(stack, node)
        lines += [f"{node}:", "  ros__parameters:"]
        doc = docs(cls)
        prev: list[str] = []
        for name, value in flatten(obj).items():
            *path, leaf = name.split(".")
            common = 0
            while common < min(len(path), len(prev)) and path[common] == prev[common]:
                common += 1
            for depth in range(common, len(path)):
                lines.append("    " + "  " * depth + f"{path[depth]}:")
            prev = path
            indent = "    " + "  " * len(path)
            for chunk in _wrap(doc[name]):
                lines.append(f"{indent}# {chunk}")
            lines.append(f"{indent}{leaf}: {yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}")
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int = 92) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width) or [""]
