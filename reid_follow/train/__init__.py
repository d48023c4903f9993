"""ReID training: PK sampler, losses, trainer with checkpoints, curves and per-epoch metrics."""
