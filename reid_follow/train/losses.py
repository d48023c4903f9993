"""ReID losses: label-smoothed cross-entropy, batch-hard triplet, center loss, and their sum.

Formulas follow the seed digest: CE target y = (1 - ε)·onehot + ε/K with ε = 0.1; triplet
max(d(a,p) - d(a,n) + α, 0) with the hardest positive and negative in the batch, or the soft
margin log(1 + exp(d(a,p) - d(a,n))) when no margin is given. For models with JPM local branches
the total is 0.5·L(global) + 0.5·mean over the k locals of L(local), as the official TransReID
``make_loss`` weights them (the same ratio as L(global) + mean(L(local)) at half the scale, which
matters against the learning rate and weight decay tuned with it).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config_base import param
from ..eval.distance import Metric, torch_distance


def label_smoothing_ce(logits: torch.Tensor, labels: torch.Tensor, epsilon: float = 0.1) -> torch.Tensor:
    """Mean over the batch of -Σ y·log softmax(logits), y = (1 - ε)·onehot + ε/K."""
    num_classes = logits.shape[1]
    log_p = F.log_softmax(logits.float(), dim=1)
    target = torch.full_like(log_p, epsilon / num_classes)
    target.scatter_(1, labels[:, None], 1.0 - epsilon + epsilon / num_classes)
    return -(target * log_p).sum(1).mean()


def batch_hard_triplet(feats: torch.Tensor, labels: torch.Tensor, margin: float | None = 0.3,
                       metric: Metric = "euclidean") -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, fraction of anchors whose hardest negative is farther than their hardest positive).

    ``margin`` None uses the soft margin. Anchors without a positive or negative in the batch are
    ignored (a PK batch always has both).
    """
    dist = torch_distance(feats.float(), feats.float(), metric)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    pos_mask, neg_mask = same & ~eye, ~same
    valid = pos_mask.any(1) & neg_mask.any(1)
    if not valid.any():
        raise ValueError("batch-hard triplet needs at least one identity with two images and one other identity")
    d_ap = dist.masked_fill(~pos_mask, float("-inf")).max(1).values[valid]
    d_an = dist.masked_fill(~neg_mask, float("inf")).min(1).values[valid]
    if margin is None:
        loss = F.softplus(d_ap - d_an).mean()
    else:
        loss = F.relu(d_ap - d_an + margin).mean()
    return loss, (d_an > d_ap).float().mean().detach()


class CenterLoss(nn.Module):
    """Mean squared distance of each feature to its class centre (Wen et al., ECCV 2016)."""

    def __init__(self, num_classes: int, feat_dim: int) -> None:
        super().__init__()
        self.centers = nn.Parameter(torch.randn(num_classes, feat_dim))

    def forward(self, feats: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return (feats.float() - self.centers[labels]).pow(2).sum(1).mean()


@dataclass
class LossConfig:
    """Weights and settings of the training loss."""

    label_smoothing: float = param(0.1, "ε of the label-smoothed cross-entropy (0: plain cross-entropy)")
    ce_weight: float = param(1.0, "weight of the identity (cross-entropy) loss")
    triplet_weight: float = param(1.0, "weight of the batch-hard triplet loss")
    triplet_margin: float = param(0.3, "triplet margin α; 0 selects the soft margin log(1 + exp(d_ap - d_an))")
    triplet_metric: str = param("euclidean", "distance of the triplet loss: euclidean | cosine")
    center_weight: float = param(0.0, "weight of the center loss on the global feature (0: off; 5e-4 in TransReID)")

    def validate(self) -> None:
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.triplet_metric not in ("euclidean", "cosine"):
            raise ValueError(f"triplet_metric must be euclidean or cosine, got {self.triplet_metric!r}")
        for name in ("ce_weight", "triplet_weight", "triplet_margin", "center_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


JPM_GLOBAL_WEIGHT = 0.5   # official TransReID: 0.5 * global + 0.5 * mean(locals), for ID and triplet alike


class ReidLoss(nn.Module):
    """CE on the BN-neck logits + triplet on the pre-BN features, per branch; JPM locals averaged
    and weighted against the global branch as TransReID does."""

    def __init__(self, config: LossConfig, num_classes: int, feat_dim: int) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.center = CenterLoss(num_classes, feat_dim) if config.center_weight > 0 else None

    def branch(self, logits: torch.Tensor | None, feats: torch.Tensor,
               labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Loss of one branch (global or one local) and its parts."""
        c = self.config
        parts: dict[str, torch.Tensor] = {}
        total = feats.new_zeros(())
        if logits is not None and c.ce_weight > 0:
            parts["ce"] = label_smoothing_ce(logits, labels, c.label_smoothing)
            parts["acc"] = (logits.argmax(1) == labels).float().mean().detach()
            total = total + c.ce_weight * parts["ce"]
        if c.triplet_weight > 0:
            margin = c.triplet_margin if c.triplet_margin > 0 else None
            parts["triplet"], parts["triplet_frac"] = batch_hard_triplet(feats, labels, margin, c.triplet_metric)
            total = total + c.triplet_weight * parts["triplet"]
        return total, parts

    def forward(self, logits: Sequence[torch.Tensor | None], feats: Sequence[torch.Tensor],
                labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Total loss and the global branch's parts (plus ``center`` and ``local``) as floats for logs."""
        if len(logits) != len(feats) or not feats:
            raise ValueError(f"need one logits entry per feature branch, got {len(logits)} and {len(feats)}")
        total, parts = self.branch(logits[0], feats[0], labels)
        if len(feats) > 1:
            local = torch.stack([self.branch(lg, f, labels)[0] for lg, f in zip(logits[1:], feats[1:])]).mean()
            parts["local"] = local.detach()
            total = JPM_GLOBAL_WEIGHT * total + (1.0 - JPM_GLOBAL_WEIGHT) * local
        if self.center is not None:
            parts["center"] = self.center(feats[0], labels)
            total = total + self.config.center_weight * parts["center"]
        logged = {k: float(v.detach()) for k, v in parts.items()}
        logged["loss"] = float(total.detach())
        return total, logged
