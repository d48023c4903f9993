"""Run a feature function over crops in bounded batches, optionally averaging with the flip."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


def embed_crops(crops: torch.Tensor, forward: Callable[[torch.Tensor], torch.Tensor], max_batch: int,
                flip: bool) -> torch.Tensor:
    """(N, D) float32 L2-normalised features of normalised (N, 3, H, W) crops.

    With ``flip`` each chunk is sent together with its mirror image (one call, twice the batch) and
    the two features are averaged before normalisation, as torchreid and fast-reid do at test time.
    """
    step = max(1, max_batch // 2) if flip else max_batch
    out = []
    for start in range(0, crops.shape[0], step):
        x = crops[start:start + step]
        if flip:
            f = forward(torch.cat([x, x.flip(3)])).float()
            f = f[:len(x)] + f[len(x):]
        else:
            f = forward(x).float()
        out.append(f)
    return F.normalize(torch.cat(out), dim=1)
