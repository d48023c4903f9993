"""ResNet-50 backbone: torchvision's definition (so ImageNet state dicts load by name), last stride 1.

Last stride 1 (Bag of Tricks) keeps the stage-4 map at 1/16 of the input (16x8 at 256x128), which
doubles the spatial detail of the final feature for a small cost.
"""
from __future__ import annotations

import torch
import torchvision
from torch import nn

STAGE_CHANNELS = (256, 512, 1024, 2048)


class ResNet50Backbone(nn.Module):
    """conv1/bn1/layer1..4 of torchvision's resnet50 (same parameter names), without fc."""

    def __init__(self, last_stride: int = 1) -> None:
        super().__init__()
        if last_stride not in (1, 2):
            raise ValueError(f"last_stride must be 1 or 2, got {last_stride}")
        r = torchvision.models.resnet50(weights=None)
        self.conv1, self.bn1, self.relu, self.maxpool = r.conv1, r.bn1, r.relu, r.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = r.layer1, r.layer2, r.layer3, r.layer4
        if last_stride == 1:
            self.layer4[0].conv2.stride = (1, 1)
            self.layer4[0].downsample[0].stride = (1, 1)
        self.last_stride = last_stride

    @property
    def stages(self) -> list[nn.Module]:
        return [self.layer1, self.layer2, self.layer3, self.layer4]

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def stage_sizes(self, input_size: tuple[int, int]) -> list[tuple[int, int]]:
        """(H, W) after each stage for an input of ``input_size`` (exact for multiples of 16/32)."""
        h, w = input_size
        strides = (4, 8, 16, 16 * self.last_stride)
        return [(h // s, w // s) for s in strides]
