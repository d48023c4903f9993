"""Training checkpoints: read safely (``weights_only=True``) and loaded strictly.

Reading and strict loading are the models package's (one implementation names missing,
unexpected and mis-shaped keys everywhere); this adds only the training-checkpoint check.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from reid_follow.models.checkpoint import CheckpointError, load_state_strict, read_checkpoint

__all__ = ["CheckpointError", "load_checkpoint", "load_state_strict"]


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A ``reid-follow train`` checkpoint dict (tensors on CPU)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    ckpt = read_checkpoint(path)
    if "model" not in ckpt:
        raise CheckpointError(f"{path} is not a reid-follow training checkpoint (no 'model' entry)")
    return ckpt
