"""Training checkpoints: everything needed to resume, loaded with ``weights_only=True``, strictly.

Loose loading (``strict=False``) is how torchreid and TransReID users end up evaluating half-random
models; here any missing, unexpected or mis-shaped key is named in the error.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model."""


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict (tensors on CPU); only plain containers and tensors are unpickled."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types (UnpicklingError, RuntimeError) for bad files
        raise CheckpointError(f"cannot read checkpoint {path}: {e}") from e
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise CheckpointError(f"{path} is not a reid-follow training checkpoint (no 'model' entry)")
    return ckpt


def load_state_strict(module: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into ``module``; any key mismatch raises naming the keys and ``source``."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                    for k in set(own) & set(state) if state[k].shape != own[k].shape)
    if missing or unexpected or shapes:
        problems = [f"{name} ({len(keys)}): {keys[:8]}{' ...' if len(keys) > 8 else ''}"
                    for name, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                                       ("mis-shaped keys", shapes)) if keys]
        raise CheckpointError(f"{source} does not fit {type(module).__name__}: " + "; ".join(problems))
    module.load_state_dict(state, strict=True)
