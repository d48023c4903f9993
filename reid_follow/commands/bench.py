"""``reid-follow bench KIND``: benchmarks that write JSON (see reid_follow.bench.<kind>)."""
from __future__ import annotations

import argparse
import importlib

KINDS = ("embed", "follow", "train", "ros")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="kind", required=True)
    for kind in KINDS:
        importlib.import_module(f"reid_follow.bench.{kind}").add_arguments(sub.add_parser(kind))


def main(args: argparse.Namespace) -> int:
    return int(importlib.import_module(f"reid_follow.bench.{args.kind}").main(args) or 0)
