"""``reid-follow``: one command line for running, replaying, evaluating, training and benchmarking.

Each sub-command lives in ``reid_follow.commands.<name>`` with ``add_arguments(parser)`` and
``main(args) -> int``; modules are imported only when their command runs, so ``reid-follow
bag make`` does not pay for torch and ``reid-follow eval`` does not pay for rclpy.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "start the detector and follower nodes in one process (no ros2 launch needed)"),
    "demo": ("demo", "replay the embedded footage through the real nodes and write an annotated video"),
    "bag": ("bag", "make a rosbag2 file from video (+ det.txt), or play one"),
    "config": ("config", "print or rewrite config/follow.yaml from the parameter dataclasses"),
    "middleware": ("middleware", "print the SHM-only profile, or write a UDP profile for several computers"),
    "follow-video": ("follow_video", "follow an enrolled person offline on a video or image folder"),
    "eval-follow": ("eval_follow", "measure following quality on sequences with ground truth"),
    "train": ("train", "train a ReID model"),
    "eval": ("eval", "evaluate a ReID model (CMC, mAP)"),
    "export": ("export", "export a ReID model to ONNX"),
    "soak": ("soak", "long run of real footage at 30 Hz through the nodes: memory growth, exceptions"),
    "bench": ("bench", "benchmarks that write JSON (embed | follow | train | ros)"),
}


def _module(name: str):
    return importlib.import_module(f"reid_follow.commands.{name}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="reid-follow", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = argv[0] if argv else None
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            _module(module).add_arguments(p)
        p.set_defaults(_module=module)
    args = parser.parse_args(argv)
    try:
        return int(_module(args._module).main(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
