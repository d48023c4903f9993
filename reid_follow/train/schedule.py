"""Per-iteration learning-rate factor: linear warm-up, then cosine decay or steps."""
from __future__ import annotations

import math

from .config import OptimConfig


def lr_factor(epoch_progress: float, total_epochs: int, cfg: OptimConfig) -> float:
    """Factor of the base rate after ``epoch_progress`` epochs (fractional, from 0)."""
    if epoch_progress < cfg.warmup_epochs:
        return cfg.warmup_factor + (1.0 - cfg.warmup_factor) * epoch_progress / cfg.warmup_epochs
    if cfg.schedule == "cosine":
        span = max(total_epochs - cfg.warmup_epochs, 1e-9)
        return 0.5 * (1.0 + math.cos(math.pi * min((epoch_progress - cfg.warmup_epochs) / span, 1.0)))
    return cfg.gamma ** sum(epoch_progress >= s for s in cfg.steps)
