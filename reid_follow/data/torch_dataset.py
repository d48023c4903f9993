"""A torch Dataset over ReID samples, optionally holding all pixels in memory.

MOT tracklets are crops of large frames: decoding a 1280x720 JPEG per crop per step would dominate
a CPU training run, so ``preload`` reads every frame once and keeps the crops, resized to the
model's input size (the transforms resize to it first anyway, so the result is the same).
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from .base import DatasetError, ReidSample
from .images import load_sample, load_samples
from .transforms import Transform


class ReidImageDataset(Dataset):
    """Items are (image tensor, class label or -1, camera id, index)."""

    def __init__(self, samples: Sequence[ReidSample], transform: Transform,
                 labels: dict[int, int] | None = None, preload_size: tuple[int, int] | None = None,
                 progress: bool = False) -> None:
        if not samples:
            raise DatasetError("no samples to build a dataset from")
        self.samples = list(samples)
        self.transform = transform
        self.labels = labels
        if labels is not None:
            unknown = sorted({s.pid for s in self.samples} - set(labels))
            if unknown:
                raise DatasetError(f"samples with ids that have no class label: {unknown[:10]}")
        self.images: list[np.ndarray] | None = None
        if preload_size is not None:
            h, w = preload_size
            self.images = [cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
                           for img in load_samples(self.samples, progress=progress)]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int, int]:
        s = self.samples[index]
        img = self.images[index] if self.images is not None else load_sample(s)
        label = self.labels[s.pid] if self.labels is not None else -1
        return self.transform(img), label, s.camid, index
