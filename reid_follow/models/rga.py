"""RGA: Relation-Aware Global Attention (Zhang et al., CVPR 2020) on a ResNet-50, and the baseline.

The module follows the digest (and the official code) exactly: relation matrix of the nodes,
in- and out-relations stacked and embedded with 1x1 convs, the node's own global feature (mean
over embedded channels) prepended, a two-layer 1x1 conv W, sigmoid, multiply. RGA-S treats the
H*W positions as nodes, RGA-C the C channels; RGA-SC runs spatial then channel in series. One
module follows each of the four residual stages. Node counts are derived from the configured
input size (the official code hard-codes 256x128) and checked at construction and at run time.
"""
from __future__ import annotations

import torch
from torch import nn

from . import register_model
from .common import (IMAGENET_MEAN, IMAGENET_STD, BNNeck, ModelSpec, NeckFeat, TrainOutput, check_image_batch,
                     check_input_size, check_neck_feat)
from .resnet import STAGE_CHANNELS, ResNet50Backbone


def _conv_bn_relu(cin: int, cout: int, relu: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class RGAModule(nn.Module):
    """Spatial and/or channel relation-aware attention for a C x H x W map with N = H*W nodes."""

    def __init__(self, in_channel: int, in_spatial: int, use_spatial: bool = True, use_channel: bool = True,
                 cha_ratio: int = 8, spa_ratio: int = 8, down_ratio: int = 8) -> None:
        super().__init__()
        if not (use_spatial or use_channel):
            raise ValueError("RGAModule needs use_spatial and/or use_channel")
        self.in_channel, self.in_spatial = in_channel, in_spatial
        self.use_spatial, self.use_channel = use_spatial, use_channel
        self.inter_channel = in_channel // cha_ratio
        self.inter_spatial = in_spatial // spa_ratio
        for what, n in (("channels", self.inter_channel), ("spatial nodes", self.inter_spatial)):
            if n < 1:
                raise ValueError(f"RGA with {in_channel} channels and {in_spatial} spatial nodes: "
                                 f"{what} embed to {n} < 1; use a larger input size")
        if use_spatial:
            num_s = 1 + self.inter_spatial
            if num_s // down_ratio < 1:
                raise ValueError(f"RGA-S with {in_spatial} spatial nodes: W would have "
                                 f"{num_s}//{down_ratio} = 0 channels; use a larger input size")
            self.theta_spatial = _conv_bn_relu(in_channel, self.inter_channel)
            self.phi_spatial = _conv_bn_relu(in_channel, self.inter_channel)
            self.gg_spatial = _conv_bn_relu(in_spatial * 2, self.inter_spatial)
            self.gx_spatial = _conv_bn_relu(in_channel, self.inter_channel)
            self.W_spatial = nn.Sequential(_conv_bn_relu(num_s, num_s // down_ratio),
                                           _conv_bn_relu(num_s // down_ratio, 1, relu=False))
        if use_channel:
            num_c = 1 + self.inter_channel
            self.theta_channel = _conv_bn_relu(in_spatial, self.inter_spatial)
            self.phi_channel = _conv_bn_relu(in_spatial, self.inter_spatial)
            self.gg_channel = _conv_bn_relu(in_channel * 2, self.inter_channel)
            self.gx_channel = _conv_bn_relu(in_spatial, self.inter_spatial)
            self.W_channel = nn.Sequential(_conv_bn_relu(num_c, num_c // down_ratio),
                                           _conv_bn_relu(num_c // down_ratio, 1, relu=False))

    def _spatial(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        theta = self.theta_spatial(x).reshape(b, self.inter_channel, h * w).permute(0, 2, 1)
        phi = self.phi_spatial(x).reshape(b, self.inter_channel, h * w)
        g = torch.matmul(theta, phi)                                   # (b, N, N): g[i, j] = r(i -> j)
        g_in = g.permute(0, 2, 1).reshape(b, h * w, h, w)              # how the others relate to me
        g_out = g.reshape(b, h * w, h, w)                              # how I relate to the others
        relation = self.gg_spatial(torch.cat([g_in, g_out], dim=1))
        own = self.gx_spatial(x).mean(dim=1, keepdim=True)
        attention = self.W_spatial(torch.cat([own, relation], dim=1))  # (b, 1, h, w)
        return torch.sigmoid(attention) * x

    def _channel(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        xc = x.reshape(b, c, h * w).permute(0, 2, 1).unsqueeze(-1)    # (b, N, C, 1): channels as nodes
        theta = self.theta_channel(xc).squeeze(-1).permute(0, 2, 1)     # (b, C, N/8)
        phi = self.phi_channel(xc).squeeze(-1)                         # (b, N/8, C)
        g = torch.matmul(theta, phi)                                   # (b, C, C)
        g_in = g.permute(0, 2, 1).unsqueeze(-1)
        g_out = g.unsqueeze(-1)
        relation = self.gg_channel(torch.cat([g_in, g_out], dim=1))    # (b, C/8, C, 1)
        own = self.gx_channel(xc).mean(dim=1, keepdim=True)            # (b, 1, C, 1)
        attention = self.W_channel(torch.cat([own, relation], dim=1))  # (b, 1, C, 1)
        return torch.sigmoid(attention.transpose(1, 2)) * x            # (b, C, 1, 1) broadcast

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.in_channel or x.shape[2] * x.shape[3] != self.in_spatial:
            raise ValueError(f"RGA module built for {self.in_channel} channels x {self.in_spatial} nodes, "
                             f"got a map of shape {tuple(x.shape[1:])}")
        if self.use_spatial:
            x = self._spatial(x)
        if self.use_channel:
            x = self._channel(x)
        return x


class RGANet(nn.Module):
    """ResNet-50 (last stride 1) + optional RGA after each stage + GAP + BN-neck (+ classifier).

    ``neck_feat``: the inference embedding is the BN-neck output (``after``, default) or the pooled
    feature before it (``before``); the official RGA evaluator scores both (``feat`` / ``feat_``),
    the BN one being the Bag-of-Tricks choice this project trains for.
    """

    def __init__(self, name: str, num_classes: int = 0, input_size: tuple[int, int] = (256, 128),
                 use_spatial: bool = True, use_channel: bool = True, last_stride: int = 1,
                 cha_ratio: int = 8, spa_ratio: int = 8, down_ratio: int = 8,
                 neck_feat: str = NeckFeat.AFTER) -> None:
        super().__init__()
        input_size = check_input_size(input_size, name)
        self.neck_feat = check_neck_feat(neck_feat, name)
        multiple = 16 * last_stride
        if input_size[0] % multiple or input_size[1] % multiple:
            raise ValueError(f"{name}: input_size {input_size} must be a multiple of {multiple} in H and W "
                             f"(ResNet-50 with last stride {last_stride}); e.g. (256, 128)")
        self.backbone = ResNet50Backbone(last_stride)
        self.stage_sizes = self.backbone.stage_sizes(input_size)
        self.rga = nn.ModuleList()
        if use_spatial or use_channel:
            for channels, (h, w) in zip(STAGE_CHANNELS, self.stage_sizes):
                try:
                    self.rga.append(RGAModule(channels, h * w, use_spatial, use_channel,
                                              cha_ratio, spa_ratio, down_ratio))
                except ValueError as e:
                    raise ValueError(f"{name} at input_size {input_size}: stage map {h}x{w}: {e}") from None
        self.neck = BNNeck(STAGE_CHANNELS[-1], num_classes)
        self.spec = ModelSpec(name, input_size, IMAGENET_MEAN, IMAGENET_STD, STAGE_CHANNELS[-1])

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The (attended) output map of every stage — what the shape tests check."""
        check_image_batch(x, self.spec.input_size, self.spec.name)
        x = self.backbone.stem(x)
        out = []
        for i, stage in enumerate(self.backbone.stages):
            x = stage(x)
            if len(self.rga):
                x = self.rga[i](x)
            out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor | TrainOutput:
        feat = self.forward_stages(x)[-1].mean(dim=(2, 3))
        bn, logits = self.neck(feat)
        if self.training:
            return TrainOutput([logits], [feat])
        return bn if self.neck_feat == NeckFeat.AFTER else feat


@register_model("r50_baseline")
def r50_baseline(num_classes: int = 0, **cfg) -> RGANet:
    """ResNet-50 BoT baseline (no attention)."""
    return RGANet("r50_baseline", num_classes, use_spatial=False, use_channel=False, **cfg)


@register_model("rga_s_r50")
def rga_s_r50(num_classes: int = 0, **cfg) -> RGANet:
    return RGANet("rga_s_r50", num_classes, use_spatial=True, use_channel=False, **cfg)


@register_model("rga_c_r50")
def rga_c_r50(num_classes: int = 0, **cfg) -> RGANet:
    return RGANet("rga_c_r50", num_classes, use_spatial=False, use_channel=True, **cfg)


@register_model("rga_sc_r50")
def rga_sc_r50(num_classes: int = 0, **cfg) -> RGANet:
    return RGANet("rga_sc_r50", num_classes, use_spatial=True, use_channel=True, **cfg)
