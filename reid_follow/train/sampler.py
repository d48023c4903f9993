"""PK identity sampler: batches of P identities × K images, as batch-hard triplet mining needs.

Without it a random batch rarely holds two images of one person, so there is no positive to mine.
Each pass visits the identities in a fresh random order, P at a time (a final group smaller than
P is dropped); an identity with fewer than K images is drawn with replacement. An epoch is one pass
unless ``batches_per_epoch`` asks for more (small sets such as a few MOT sequences have only a
handful of P-groups per pass).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler


class PKSampler(Sampler[list[int]]):
    """Batch sampler yielding lists of P·K dataset indices, grouped by identity."""

    def __init__(self, pids: Sequence[int], p: int, k: int, seed: int = 0,
                 batches_per_epoch: int | None = None) -> None:
        if p < 2 or k < 1:
            raise ValueError(f"need P >= 2 identities and K >= 1 images per batch, got P={p}, K={k}")
        self.by_pid: dict[int, list[int]] = defaultdict(list)
        for i, pid in enumerate(pids):
            self.by_pid[int(pid)].append(i)
        if len(self.by_pid) < p:
            raise ValueError(f"P={p} identities per batch, but the training set has only {len(self.by_pid)}")
        if batches_per_epoch is not None and batches_per_epoch < 1:
            raise ValueError(f"batches_per_epoch must be >= 1, got {batches_per_epoch}")
        self.p, self.k, self.seed = p, k, seed
        self.batches_per_epoch = batches_per_epoch or len(self.by_pid) // p
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the order a function of (seed, epoch), so a resumed run draws the same batches."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.batches_per_epoch

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        pids = sorted(self.by_pid)
        groups_per_pass = len(pids) // self.p
        for b in range(len(self)):
            if b % groups_per_pass == 0:
                order = rng.permutation(len(pids))
            group = order[(b % groups_per_pass) * self.p:(b % groups_per_pass + 1) * self.p]
            batch: list[int] = []
            for j in group:
                idx = self.by_pid[pids[j]]
                batch.extend(int(i) for i in rng.choice(idx, size=self.k, replace=len(idx) < self.k))
            yield batch
