"""Image transforms for training and testing; size and normalisation come from the model's spec.

Training augmentation is the usual strong-baseline set (Luo et al. 2019, TransReID): resize,
random horizontal flip, pad + random crop back to size, normalise, random erasing. Mean and std
are not assumed (ImageNet vs. 0.5 for ViT): the model says which it was trained with.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torchvision.transforms import v2

from ..config_base import param

Transform = Callable[[np.ndarray], torch.Tensor]


@dataclass
class AugmentConfig:
    """Training augmentation."""

    flip_p: float = param(0.5, "probability of a horizontal flip")
    pad: int = param(10, "pixels of zero padding before the random crop back to the input size (0: no crop)")
    erase_p: float = param(0.5, "probability of random erasing (a random rectangle set to the mean colour)")

    def validate(self) -> None:
        for name in ("flip_p", "erase_p"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.pad < 0:
            raise ValueError(f"pad must be >= 0, got {self.pad}")


def _check(input_size: tuple[int, int], mean: tuple[float, ...], std: tuple[float, ...]) -> None:
    if len(input_size) != 2 or min(input_size) < 1:
        raise ValueError(f"input_size must be (height, width) > 0, got {input_size}")
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ValueError(f"mean and std need 3 channels with std > 0, got mean={mean}, std={std}")


def eval_transform(input_size: tuple[int, int], mean: tuple[float, ...], std: tuple[float, ...]) -> Transform:
    """RGB uint8 HWC array -> normalised (3, H, W) float tensor."""
    _check(input_size, mean, std)
    return v2.Compose([v2.ToImage(), v2.Resize(list(input_size), antialias=True),
                       v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))])


def train_transform(input_size: tuple[int, int], mean: tuple[float, ...], std: tuple[float, ...],
                    aug: AugmentConfig | None = None) -> Transform:
    """The eval transform plus flip, pad + random crop and random erasing."""
    _check(input_size, mean, std)
    aug = aug or AugmentConfig()
    aug.validate()
    steps: list[Callable] = [v2.ToImage(), v2.Resize(list(input_size), antialias=True),
                             v2.RandomHorizontalFlip(aug.flip_p)]
    if aug.pad:
        steps += [v2.Pad(aug.pad), v2.RandomCrop(list(input_size))]
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]
    if aug.erase_p:
        steps.append(v2.RandomErasing(p=aug.erase_p, value=0))   # 0 after normalisation = mean colour
    return v2.Compose(steps)
