"""Evaluation figures: CMC curves and a ranked-results sheet (query + top-k, green = same person)."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import cv2
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..data.images import load_sample  # noqa: E402
from .evaluate import EvalResult  # noqa: E402

CORRECT, WRONG, QUERY = (0, 170, 0), (210, 0, 0), (40, 40, 40)


def plot_cmc(curves: Mapping[str, np.ndarray], path: Path, max_rank: int = 20) -> Path:
    """One CMC curve per label (e.g. plain vs. re-ranked), rank 1..max_rank."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, cmc in curves.items():
        n = min(max_rank, len(cmc))
        ax.plot(np.arange(1, n + 1), cmc[:n], marker="o", markersize=3, label=f"{label} (R1 {cmc[0]:.3f})")
    ax.set_xlabel("rank")
    ax.set_ylabel("matching rate")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("CMC")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _tile(img: np.ndarray, colour: tuple[int, int, int], size: tuple[int, int] = (128, 64), border: int = 4) -> np.ndarray:
    h, w = size
    img = cv2.resize(img, (w - 2 * border, h - 2 * border), interpolation=cv2.INTER_AREA)
    return cv2.copyMakeBorder(img, border, border, border, border, cv2.BORDER_CONSTANT, value=colour)


def plot_ranked(result: EvalResult, path: Path, top_k: int = 10, num_queries: int = 6) -> Path:
    """Rows of query + its top-k gallery images after the same-id-same-camera exclusion.

    Queries are spread evenly over the valid ones, so the sheet shows typical cases, not only
    the first identity.
    """
    valid = np.flatnonzero(result.ranking.valid)
    rows = valid[np.linspace(0, len(valid) - 1, min(num_queries, len(valid))).round().astype(int)]
    g_pids = np.array([s.pid for s in result.gallery])
    g_cams = np.array([s.camid for s in result.gallery])
    fig, axes = plt.subplots(len(rows), top_k + 1, figsize=(1.1 * (top_k + 1), 2.2 * len(rows)), squeeze=False)
    for r, qi in enumerate(rows):
        q = result.query[qi]
        order = np.argsort(result.distmat[qi], kind="stable")
        order = order[~((g_pids[order] == q.pid) & (g_cams[order] == q.camid))][:top_k]
        tiles = [(_tile(load_sample(q), QUERY), f"query\nid {q.pid}")]
        for rank, gi in enumerate(order, 1):
            g = result.gallery[gi]
            tiles.append((_tile(load_sample(g), CORRECT if g.pid == q.pid else WRONG),
                          f"{rank}: {result.distmat[qi, gi]:.2f}"))
        for c, ax in enumerate(axes[r]):
            ax.axis("off")
            if c < len(tiles):
                ax.imshow(tiles[c][0])
                ax.set_title(tiles[c][1], fontsize=7)
    fig.suptitle(f"ranked results ({result.metric}{', re-ranked' if result.rerank else ''}); "
                 "green = same person, red = other", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
