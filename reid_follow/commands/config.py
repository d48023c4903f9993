"""``reid-follow config [--write]``: the parameter file generated from the dataclasses."""
from __future__ import annotations

import argparse

from reid_follow.config import default_config_path, load_stack, render_yaml


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--write", action="store_true", help="rewrite config/follow.yaml with the defaults")
    p.add_argument("--config", help="show this parameter file's effective values instead of defaults")
    p.add_argument("--markdown", action="store_true",
                   help="print the follow.* parameters as the Markdown table of docs/follow.md instead")


def main(args: argparse.Namespace) -> int:
    if args.markdown:
        from reid_follow.config_base import markdown_table
        from reid_follow.follow.config import FollowConfig

        print(markdown_table(FollowConfig, "follow."), end="")
        return 0
    text = render_yaml(load_stack(args.config) if args.config else None)
    if args.write:
        default_config_path().write_text(text)
        print(f"wrote {default_config_path()}")
    else:
        print(text, end="")
    return 0
