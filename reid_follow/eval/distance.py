"""Distances between embeddings (smaller = more similar), shared by evaluation and the triplet loss."""
from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

Metric = Literal["euclidean", "cosine"]
METRICS: tuple[str, ...] = ("euclidean", "cosine")


def torch_distance(a: torch.Tensor, b: torch.Tensor, metric: Metric = "euclidean") -> torch.Tensor:
    """Differentiable (len(a), len(b)) distance matrix.

    ``euclidean`` is the L2 distance through the ||a||² + ||b||² - 2ab expansion (one matrix
    product); the square is clamped at 1e-12 before the root so that the gradient stays finite for
    identical points. ``cosine`` is 1 - cosine similarity, in [0, 2].
    """
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"features must be 2-D (num, dim), got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    if metric == "euclidean":
        sq = (a * a).sum(1, keepdim=True) + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
        return sq.clamp_min(1e-12).sqrt()
    if metric == "cosine":
        return 1.0 - F.normalize(a, dim=1) @ F.normalize(b, dim=1).T
    raise ValueError(f"unknown metric {metric!r}; valid: {list(METRICS)}")


def pairwise_distance(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor,
                      metric: Metric = "euclidean") -> np.ndarray:
    """(len(a), len(b)) float32 numpy distances for evaluation (no gradient)."""
    with torch.no_grad():
        return torch_distance(torch.as_tensor(a).float(), torch.as_tensor(b).float(), metric).cpu().numpy()
