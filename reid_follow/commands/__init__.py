"""Sub-commands of ``reid-follow`` (see reid_follow.cli)."""
