"""What every ReID model shares: its contract (:class:`ModelSpec`), train output, and BN-neck head."""
from __future__ import annotations

import enum
from dataclasses import dataclass

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class NeckFeat(enum.StrEnum):
    """Which side of the BN-neck is the inference embedding (TransReID's ``TEST.NECK_FEAT``).

    The two differ by order 1 (the BN rescales every dimension), so a checkpoint reproduces its
    published numbers only with the feature it was evaluated with: every official TransReID config
    tests ``before``; the official RGA evaluator scores both.
    """

    BEFORE = "before"   # the pooled / class-token feature the triplet loss sees
    AFTER = "after"     # the BN-neck output the classifier sees


def check_neck_feat(value: str | NeckFeat, model: str) -> NeckFeat:
    """``value`` as a NeckFeat, or ValueError naming the model and the valid values."""
    try:
        return NeckFeat(value)
    except ValueError:
        raise ValueError(f"{model}: neck_feat must be one of {[v.value for v in NeckFeat]}, got {value!r}") from None


@dataclass(frozen=True)
class ModelSpec:
    """The model's own pre-processing and output contract; the embedder and export read it.

    ``mean``/``std`` are RGB on the 0..1 scale: the input is ``(rgb / 255 - mean) / std``.
    """

    name: str
    input_size: tuple[int, int]          # (H, W)
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    feat_dim: int


@dataclass
class TrainOutput:
    """``train()``-mode output: one entry per branch, global first, then JPM locals.

    ``logits`` are None when the model was built with ``num_classes=0``; ``feats`` are the pre-BN
    features the triplet loss uses.
    """

    logits: list[torch.Tensor | None]
    feats: list[torch.Tensor]


class BNNeck(nn.Module):
    """BNNeck (Luo et al., "Bag of Tricks"): BN (shift frozen) between the triplet and the ID loss.

    The triplet loss sees the pre-BN feature, the classifier (no bias) the BN feature, and the
    BN feature is the inference embedding.
    """

    def __init__(self, dim: int, num_classes: int = 0) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(dim)
        self.bn.bias.requires_grad_(False)
        nn.init.ones_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)
        self.classifier = nn.Linear(dim, num_classes, bias=False) if num_classes > 0 else None
        if self.classifier is not None:
            nn.init.normal_(self.classifier.weight, std=0.001)

    def forward(self, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        bn = self.bn(feat)
        return bn, (self.classifier(bn) if self.classifier is not None else None)


def check_input_size(input_size: tuple[int, int] | list[int], model: str) -> tuple[int, int]:
    """(H, W) as a tuple of two positive ints, or ValueError naming the model."""
    size = tuple(input_size)
    if len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size):
        raise ValueError(f"{model}: input_size must be (H, W) positive ints, got {input_size!r}")
    return size  # type: ignore[return-value]


def check_image_batch(x: torch.Tensor, input_size: tuple[int, int], model: str) -> None:
    """Fail clearly when a batch is not (B, 3, H, W) at the size the model was built for."""
    if x.dim() != 4 or x.shape[1] != 3 or tuple(x.shape[2:]) != tuple(input_size):
        raise ValueError(f"{model}: expected input (B, 3, {input_size[0]}, {input_size[1]}), got {tuple(x.shape)}")
