"""TransReID (He et al., ICCV 2021): ViT backbone with overlapping patches, SIE, JPM and a BN-neck.

Parameter names of the backbone follow timm's ViT (``patch_embed.proj``, ``blocks.N.attn.qkv``,
``pos_embed``, ``cls_token``, ``norm``) so ImageNet weights load by name; official TransReID
checkpoints are mapped in :mod:`reid_follow.models.checkpoint`. Blocks are pre-norm
(z' = z + MSA(LN(z)); z = z' + MLP(LN(z'))) with stochastic depth; the class token is the feature.

JPM (jigsaw patch module): the last block is run twice in parallel — a global branch (copy of the
last block + norm on all tokens) and a local branch (another copy) applied to k groups of shifted
and shuffled patch tokens, each with the class token prepended; each branch output's class token
goes through its own BN-neck. At inference ``jpm_inference="concat"`` returns
[global, local_1/k, ..., local_k/k] as TransReID does, ``"global"`` only the global feature.

``neck_feat`` picks the side of the BN-neck(s) returned at inference; the default ``before`` is
what every official TransReID configuration is evaluated with (``TEST.NECK_FEAT``).

SIE (side information embedding): one learnt vector per camera, per view, or per (camera, view)
pair, scaled by λ and added to every token. The table row of a label pair is :func:`sie_row`.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from . import register_model
from .common import BNNeck, ModelSpec, NeckFeat, TrainOutput, check_image_batch, check_input_size, check_neck_feat

VIT_MEAN = (0.5, 0.5, 0.5)
VIT_STD = (0.5, 0.5, 0.5)
JPM_INFERENCE = ("global", "concat")


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch per sample while training."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = torch.softmax((q @ k.transpose(-2, -1)) * self.scale, dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block (timm names: norm1, attn, norm2, mlp)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, qkv_bias: bool, drop_path: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads, qkv_bias)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    """P x P patches every S pixels (S < P: overlapping, TransReID) -> tokens; a strided conv."""

    def __init__(self, input_size: tuple[int, int], patch: int, stride: int, dim: int) -> None:
        super().__init__()
        h, w = input_size
        if not 1 <= stride <= patch:
            raise ValueError(f"stride must be in 1..patch_size={patch}, got {stride}")
        if h < patch or w < patch:
            raise ValueError(f"input_size {input_size} is smaller than the {patch}x{patch} patch")
        self.grid = ((h - patch) // stride + 1, (w - patch) // stride + 1)
        self.num_patches = self.grid[0] * self.grid[1]
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


def sie_row(camera, view, camera_num: int, view_num: int):
    """Row of the SIE table for camera / view labels (ints or int tensors), as official TransReID:
    ``camera * view_num + view`` for a camera x view table, else the camera (or the view) itself."""
    if camera_num > 0 and view_num > 0:
        return camera * view_num + view
    return camera if camera_num > 0 else view


def grid_size(input_size: tuple[int, int], patch: int, stride: int) -> tuple[int, int]:
    """Token grid (rows, cols) of ``input_size`` for a patch size and stride (no padding)."""
    return (input_size[0] - patch) // stride + 1, (input_size[1] - patch) // stride + 1


class VisionTransformer(nn.Module):
    """ViT backbone with class token, learnable position embedding and optional SIE."""

    def __init__(self, input_size: tuple[int, int], patch_size: int, stride: int, embed_dim: int, depth: int,
                 heads: int, mlp_ratio: float, qkv_bias: bool, drop_path_rate: float,
                 camera_num: int, view_num: int, sie_coe: float) -> None:
        super().__init__()
        if embed_dim % heads:
            raise ValueError(f"embed_dim {embed_dim} must be divisible by heads {heads}")
        self.patch_size, self.stride, self.embed_dim = patch_size, stride, embed_dim
        self.patch_embed = PatchEmbed(input_size, patch_size, stride, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches + 1, embed_dim))
        self.camera_num, self.view_num, self.sie_coe = max(camera_num, 0), max(view_num, 0), sie_coe
        sie_size = max(self.camera_num, 1) * max(self.view_num, 1) if (camera_num > 0 or view_num > 0) else 0
        self.sie_embed = nn.Parameter(torch.zeros(sie_size, 1, embed_dim)) if sie_size else None
        rates = torch.linspace(0, drop_path_rate, depth).tolist()
        self.blocks = nn.ModuleList(Block(embed_dim, heads, mlp_ratio, qkv_bias, r) for r in rates)
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        for p in (self.cls_token, self.pos_embed) + ((self.sie_embed,) if self.sie_embed is not None else ()):
            nn.init.trunc_normal_(p, std=0.02)
        self.apply(_init_weights)

    def side_info(self, cam_label: torch.Tensor | None, view_label: torch.Tensor | None,
                  batch: int) -> torch.Tensor | None:
        """SIE: λ · embedding of (camera, view), added to every token; label 0 when not given."""
        if self.sie_embed is None:
            return None
        zeros = torch.zeros(batch, dtype=torch.long, device=self.sie_embed.device)
        cam = cam_label if cam_label is not None else zeros
        view = view_label if view_label is not None else zeros
        return self.sie_coe * self.sie_embed[sie_row(cam, view, self.camera_num, self.view_num)]

    def tokens(self, x: torch.Tensor, cam_label: torch.Tensor | None = None,
               view_label: torch.Tensor | None = None, skip_last: bool = False) -> torch.Tensor:
        """Token sequence after all blocks (+ final norm), or before the last block (for JPM)."""
        b = x.shape[0]
        x = torch.cat([self.cls_token.expand(b, -1, -1), self.patch_embed(x)], dim=1) + self.pos_embed
        sie = self.side_info(cam_label, view_label, b)
        if sie is not None:
            x = x + sie
        for block in self.blocks[:-1] if skip_last else self.blocks:
            x = block(x)
        return x if skip_last else self.norm(x)


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def shuffle_tokens(tokens: torch.Tensor, shift: int, groups: int) -> torch.Tensor:
    """TransReID's shift + patch shuffle of the patch tokens (class token at index 0 dropped).

    Shift: rotate the sequence so it starts at token ``shift``; shuffle: split into ``groups``
    interleaved parts. When the patch count does not divide, the second-to-last token is repeated
    once (as in the official ``shuffle_unit``).
    """
    b, _, d = tokens.shape
    x = torch.cat([tokens[:, shift:], tokens[:, 1:shift]], dim=1)
    if x.shape[1] % groups:
        x = torch.cat([x, x[:, -2:-1]], dim=1)
    return x.reshape(b, groups, -1, d).transpose(1, 2).reshape(b, -1, d)


class TransReID(nn.Module):
    """ViT-BoT (global branch + BN-neck), optionally with JPM local branches."""

    def __init__(self, name: str, num_classes: int = 0, input_size: tuple[int, int] = (256, 128),
                 patch_size: int = 16, stride: int = 16, embed_dim: int = 768, depth: int = 12, heads: int = 12,
                 mlp_ratio: float = 4.0, qkv_bias: bool = True, drop_path_rate: float = 0.1,
                 camera_num: int = 0, view_num: int = 0, sie_coe: float = 3.0, jpm: bool = False,
                 shift_num: int = 5, shuffle_groups: int = 2, k: int = 4, jpm_inference: str = "concat",
                 neck_feat: str = NeckFeat.BEFORE) -> None:
        super().__init__()
        input_size = check_input_size(input_size, name)
        self.neck_feat = check_neck_feat(neck_feat, name)
        if jpm_inference not in JPM_INFERENCE:
            raise ValueError(f"{name}: jpm_inference must be one of {JPM_INFERENCE}, got {jpm_inference!r}")
        if not 0.0 <= drop_path_rate < 1.0:
            raise ValueError(f"{name}: drop_path_rate must be in [0, 1), got {drop_path_rate}")
        try:
            self.backbone = VisionTransformer(input_size, patch_size, stride, embed_dim, depth, heads, mlp_ratio,
                                              qkv_bias, drop_path_rate, camera_num, view_num, sie_coe)
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from None
        self.neck = BNNeck(embed_dim, num_classes)
        self.jpm, self.shift_num, self.shuffle_groups, self.k = jpm, shift_num, shuffle_groups, k
        self.jpm_inference = jpm_inference
        num_patches = self.backbone.patch_embed.num_patches
        if jpm:
            padded = num_patches + (num_patches % shuffle_groups != 0)
            if k < 1 or shuffle_groups < 1 or not 1 <= shift_num < num_patches or padded % shuffle_groups \
                    or num_patches // k < 1:
                raise ValueError(f"{name}: JPM with {num_patches} patches needs 1 <= shift_num < patches, "
                                 f"k and shuffle_groups that split them; got shift_num={shift_num}, k={k}, "
                                 f"shuffle_groups={shuffle_groups}")
            self.jpm_global = nn.Sequential(copy.deepcopy(self.backbone.blocks[-1]), copy.deepcopy(self.backbone.norm))
            self.jpm_local = nn.Sequential(copy.deepcopy(self.backbone.blocks[-1]), copy.deepcopy(self.backbone.norm))
            self.local_necks = nn.ModuleList(BNNeck(embed_dim, num_classes) for _ in range(k))
        feat_dim = embed_dim * (1 + k if jpm and jpm_inference == "concat" else 1)
        self.spec = ModelSpec(name, input_size, VIT_MEAN, VIT_STD, feat_dim)

    @property
    def has_sie(self) -> bool:
        """Whether the forward takes camera / view labels (an SIE table exists)."""
        return self.backbone.sie_embed is not None

    def copy_last_block_to_jpm(self) -> None:
        """Initialise both JPM branches from the backbone's last block and norm (after loading
        ImageNet weights, as TransReID does when it builds the branches)."""
        if self.jpm:
            for branch in (self.jpm_global, self.jpm_local):
                branch[0].load_state_dict(self.backbone.blocks[-1].state_dict())
                branch[1].load_state_dict(self.backbone.norm.state_dict())

    def forward(self, x: torch.Tensor, cam_label: torch.Tensor | None = None,
                view_label: torch.Tensor | None = None) -> torch.Tensor | TrainOutput:
        check_image_batch(x, self.spec.input_size, self.spec.name)
        if not self.jpm:
            feat = self.backbone.tokens(x, cam_label, view_label)[:, 0]
            bn, logits = self.neck(feat)
            if self.training:
                return TrainOutput([logits], [feat])
            return bn if self.neck_feat == NeckFeat.AFTER else feat
        tokens = self.backbone.tokens(x, cam_label, view_label, skip_last=True)
        global_feat = self.jpm_global(tokens)[:, 0]
        cls = tokens[:, :1]
        patches = shuffle_tokens(tokens, self.shift_num, self.shuffle_groups)
        length = (tokens.shape[1] - 1) // self.k
        local_feats = [self.jpm_local(torch.cat([cls, patches[:, i * length:(i + 1) * length]], dim=1))[:, 0]
                       for i in range(self.k)]
        global_bn, global_logits = self.neck(global_feat)
        if self.training:
            local_out = [neck(f) for neck, f in zip(self.local_necks, local_feats)]
            return TrainOutput([global_logits] + [o[1] for o in local_out], [global_feat] + local_feats)
        before = self.neck_feat == NeckFeat.BEFORE
        if self.jpm_inference == "global":
            return global_feat if before else global_bn
        local = local_feats if before else [neck(f)[0] for neck, f in zip(self.local_necks, local_feats)]
        return torch.cat([global_feat if before else global_bn] + [f / self.k for f in local], dim=1)


@register_model("vit_base_transreid")
def vit_base_transreid(num_classes: int = 0, **cfg) -> TransReID:
    """ViT-B/16 (768-d, 12 blocks, 12 heads, ~86M backbone parameters)."""
    return TransReID("vit_base_transreid", num_classes, **{"embed_dim": 768, "depth": 12, "heads": 12, **cfg})


@register_model("vit_small_transreid")
def vit_small_transreid(num_classes: int = 0, **cfg) -> TransReID:
    """ViT-S/16 in the DeiT-S shape (384-d, 12 blocks, 6 heads, ~22M backbone parameters)."""
    return TransReID("vit_small_transreid", num_classes, **{"embed_dim": 384, "depth": 12, "heads": 6, **cfg})


@register_model("vit_tiny_transreid")
def vit_tiny_transreid(num_classes: int = 0, **cfg) -> TransReID:
    """A small ViT for tests and CPU experiments (192-d, 4 blocks, 3 heads, 128x64 input)."""
    defaults = {"embed_dim": 192, "depth": 4, "heads": 3, "input_size": (128, 64), "drop_path_rate": 0.0}
    return TransReID("vit_tiny_transreid", num_classes, **{**defaults, **cfg})


def interpolate_pos_embed(pos_embed: torch.Tensor, old_grid: tuple[int, int],
                          new_grid: tuple[int, int]) -> torch.Tensor:
    """Resize a (1, 1 + H*W, D) position embedding to a new token grid (class token kept).

    Bilinear over the 2-D patch grid, as TransReID's ``resize_pos_embed`` does.
    """
    cls, grid = pos_embed[:, :1], pos_embed[:, 1:]
    if grid.shape[1] != old_grid[0] * old_grid[1]:
        raise ValueError(f"pos_embed has {grid.shape[1]} patch tokens, not {old_grid[0]}x{old_grid[1]}")
    grid = grid.reshape(1, old_grid[0], old_grid[1], -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=new_grid, mode="bilinear", align_corners=False)
    return torch.cat([cls, grid.permute(0, 2, 3, 1).reshape(1, new_grid[0] * new_grid[1], -1)], dim=1)


def square_grid(num_patches: int) -> tuple[int, int] | None:
    """(s, s) if ``num_patches`` is a square (ImageNet ViT checkpoints), else None."""
    s = math.isqrt(num_patches)
    return (s, s) if s * s == num_patches else None
