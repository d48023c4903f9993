"""Training curves PNG: losses and evaluation scores per epoch."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LOSS_KEYS = ("loss", "ce", "triplet", "local", "center")
SCORE_KEYS = ("mAP", "rank1", "acc", "triplet_frac")


def plot_history(history: list[dict], path: Path) -> Path:
    """Left: loss terms; right: mAP / rank-1 (evaluated epochs) and training accuracies."""
    fig, (ax_loss, ax_score) = plt.subplots(1, 2, figsize=(11, 4))
    for ax, keys in ((ax_loss, LOSS_KEYS), (ax_score, SCORE_KEYS)):
        for key in keys:
            pts = [(h["epoch"], h[key]) for h in history if key in h]
            if pts:
                ax.plot(*zip(*pts), marker="o" if len(pts) < 30 else None, label=key)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    ax_loss.set_title("training loss")
    ax_score.set_title("scores")
    ax_score.set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
