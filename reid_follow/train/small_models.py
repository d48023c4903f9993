"""``small_cnn``: a ~1 M-parameter CNN that trains from scratch on a CPU in minutes.

It exists for the training smoke test and for quick experiments on tracklets; it follows the
models' contract (``spec``, ``TrainOutput`` of pre-BN features and BN-neck logits, eval mode ->
BN-neck embedding), so the trainer, evaluation and export treat it like RGA or TransReID.
Importing this module registers it (the trainer and ``reid-follow eval`` do).
"""
from __future__ import annotations

import torch
from torch import nn

from ..models import register_model
from ..models.common import IMAGENET_MEAN, IMAGENET_STD, BNNeck, ModelSpec, TrainOutput, check_image_batch, check_input_size


def _conv_bn(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SmallReidCNN(nn.Module):
    """Stem, four stages of two 3x3 convs (width w, w, 2w, 4w, 8w; 16x down), average pool, BN neck."""

    def __init__(self, num_classes: int = 0, input_size: tuple[int, int] = (128, 64), width: int = 32) -> None:
        super().__init__()
        size = check_input_size(input_size, "small_cnn")
        if min(size) < 16:
            raise ValueError(f"small_cnn: input_size must be at least 16 px per side, got {size}")
        self.spec = ModelSpec("small_cnn", size, IMAGENET_MEAN, IMAGENET_STD, 8 * width)
        layers: list[nn.Module] = [_conv_bn(3, width, 2)]
        cin = width
        for cout in (width, 2 * width, 4 * width, 8 * width):
            layers += [_conv_bn(cin, cout, 2 if cout != width else 1), _conv_bn(cout, cout, 1)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.neck = BNNeck(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor | TrainOutput:
        check_image_batch(x, self.spec.input_size, "small_cnn")
        feat = self.pool(self.features(x)).flatten(1)
        bn, logits = self.neck(feat)
        return TrainOutput(logits=[logits], feats=[feat]) if self.training else bn


@register_model("small_cnn")
def small_cnn(num_classes: int = 0, input_size: tuple[int, int] = (128, 64), width: int = 32) -> SmallReidCNN:
    return SmallReidCNN(num_classes, tuple(input_size), width)
