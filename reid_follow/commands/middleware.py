"""``reid-follow middleware``: print or write the middleware profiles (SHM-only default, UDP peers)."""
from __future__ import annotations

import argparse
from pathlib import Path

from reid_follow.ros.middleware import profile_path, udp_peers_profile


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--local", help="this computer's address on the robot network (UDP peers profile)")
    p.add_argument("--peers", help="comma-separated addresses of the other computers")
    p.add_argument("--out", help="write the profile here instead of printing it")


def main(args: argparse.Namespace) -> int:
    if bool(args.local) != bool(args.peers):
        raise SystemExit("--local and --peers go together")
    text = (udp_peers_profile(args.local, [p.strip() for p in args.peers.split(",") if p.strip()])
            if args.local else profile_path().read_text())
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}; use: export FASTDDS_DEFAULT_PROFILES_FILE={Path(args.out).resolve()}")
    else:
        print(text, end="")
    return 0
