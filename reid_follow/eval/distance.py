"""Query-gallery distances between embeddings (smaller = more similar)."""
from __future__ import annotations

from typing import Literal

import numpy as np
import torch

Metric = Literal["euclidean", "cosine"]
METRICS: tuple[str, ...] = ("euclidean", "cosine")


def _as_tensor(x: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    t = torch.as_tensor(x).float()
    if t.ndim != 2:
        raise ValueError(f"{name} must be 2-D (num, dim), got shape {tuple(t.shape)}")
    return t


def pairwise_distance(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor,
                      metric: Metric = "euclidean") -> np.ndarray:
    """(len(a), len(b)) distances as float32 numpy.

    ``euclidean`` is the plain L2 distance (computed via the ||a||² + ||b||² - 2ab expansion, one
    matrix product, clamped at 0 before the root); ``cosine`` is 1 - cosine similarity, in [0, 2].
    """
    ta, tb = _as_tensor(a, "a"), _as_tensor(b, "b")
    if ta.shape[1] != tb.shape[1]:
        raise ValueError(f"feature dimensions differ: {ta.shape[1]} vs {tb.shape[1]}")
    if metric == "euclidean":
        sq = (ta * ta).sum(1, keepdim=True) + (tb * tb).sum(1)[None, :] - 2.0 * ta @ tb.T
        d = sq.clamp_min(0).sqrt()
    elif metric == "cosine":
        d = 1.0 - torch.nn.functional.normalize(ta, dim=1) @ torch.nn.functional.normalize(tb, dim=1).T
    else:
        raise ValueError(f"unknown metric {metric!r}; valid: {list(METRICS)}")
    return d.numpy()
