"""``reid-follow bench KIND``: benchmarks that write JSON (see reid_follow.bench.<kind>)."""
from __future__ import annotations

import argparse
import importlib
import sys

KINDS = ("embed", "follow", "train", "ros", "track", "reid")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="kind", required=True)
    chosen = next((a for a in sys.argv[2:] if a in KINDS), None)
    for kind in KINDS:  # only the chosen benchmark's module is imported (each pulls in heavy deps)
        sp = sub.add_parser(kind)
        if kind == chosen:
            importlib.import_module(f"reid_follow.bench.{kind}").add_arguments(sp)


def main(args: argparse.Namespace) -> int:
    return int(importlib.import_module(f"reid_follow.bench.{args.kind}").main(args) or 0)
