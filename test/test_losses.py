"""Losses against values worked out by hand."""
from __future__ import annotations

import math

import pytest
import torch

from reid_follow.train.losses import (CenterLoss, LossConfig, ReidLoss, batch_hard_triplet,
                                      label_smoothing_ce)


def test_label_smoothing_ce_by_hand() -> None:
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    labels = torch.tensor([0, 2])
    z0 = math.log(math.e ** 2 + 2)   # log-sum-exp of row 0
    z1 = math.log(math.e + 2)
    eps, k = 0.1, 3
    y_hi, y_lo = 1 - eps + eps / k, eps / k
    row0 = -(y_hi * (2 - z0) + 2 * y_lo * (0 - z0))
    row1 = -(y_lo * (0 - z1) + y_lo * (1 - z1) + y_hi * (0 - z1))
    assert float(label_smoothing_ce(logits, labels, eps)) == pytest.approx((row0 + row1) / 2, rel=1e-6)
    assert float(label_smoothing_ce(logits, labels, 0.0)) == pytest.approx(((z0 - 2) + z1) / 2, rel=1e-6)


def test_batch_hard_triplet_by_hand() -> None:
    feats = torch.tensor([[0.0], [1.0], [3.0], [1.5]])
    labels = torch.tensor([0, 0, 1, 1])
    # hardest (positive, negative) per anchor: (1, 1.5), (1, 0.5), (1.5, 2), (1.5, 0.5)
    loss, frac = batch_hard_triplet(feats, labels, margin=0.3)
    assert float(loss) == pytest.approx((0 + 0.8 + 0 + 1.3) / 4, abs=1e-5)
    assert float(frac) == 0.5
    soft, _ = batch_hard_triplet(feats, labels, margin=None)
    sp = lambda x: math.log1p(math.exp(x))  # noqa: E731
    assert float(soft) == pytest.approx((sp(-0.5) + sp(0.5) + sp(-0.5) + sp(1.0)) / 4, abs=1e-5)


def test_batch_hard_triplet_cosine_by_hand() -> None:
    # unit vectors at angles 0°, 60° (id 0) and 90°, 180° (id 1): cosine distance = 1 - cos(angle)
    ang = torch.tensor([0.0, 60.0, 90.0, 180.0]) * math.pi / 180
    feats = torch.stack([ang.cos(), ang.sin()], 1) * torch.tensor([[1.0], [2.0], [3.0], [0.5]])
    labels = torch.tensor([0, 0, 1, 1])
    d = lambda deg: 1 - math.cos(math.radians(deg))  # noqa: E731
    per_anchor = [max(d(60) - d(90) + 0.2, 0), max(d(60) - d(30) + 0.2, 0),
                  max(d(90) - d(30) + 0.2, 0), max(d(90) - d(120) + 0.2, 0)]
    loss, _ = batch_hard_triplet(feats, labels, margin=0.2, metric="cosine")
    assert float(loss) == pytest.approx(sum(per_anchor) / 4, abs=1e-5)


def test_triplet_needs_positives_and_negatives() -> None:
    with pytest.raises(ValueError, match="at least one identity with two images"):
        batch_hard_triplet(torch.zeros(3, 2), torch.tensor([0, 1, 2]))


def test_center_loss_by_hand() -> None:
    center = CenterLoss(2, 2)
    with torch.no_grad():
        center.centers.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    feats = torch.tensor([[3.0, 4.0], [1.0, 2.0]])
    assert float(center(feats, torch.tensor([0, 1])).detach()) == pytest.approx((25 + 1) / 2)


def test_reid_loss_weights_global_and_mean_of_locals_as_transreid() -> None:
    torch.manual_seed(0)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    feats = [torch.randn(6, 8) for _ in range(3)]
    logits = [torch.randn(6, 3) for _ in range(3)]
    cfg = LossConfig()
    loss_fn = ReidLoss(cfg, num_classes=3, feat_dim=8)

    def one(lg: torch.Tensor, f: torch.Tensor) -> float:
        return float(label_smoothing_ce(lg, labels, 0.1) + batch_hard_triplet(f, labels, 0.3)[0])

    total, parts = loss_fn(logits, feats, labels)
    # official TransReID JPM weighting: 0.5 * global + 0.5 * mean(locals)
    expected = 0.5 * one(logits[0], feats[0]) + 0.5 * (one(logits[1], feats[1]) + one(logits[2], feats[2])) / 2
    assert float(total) == pytest.approx(expected, rel=1e-5)
    assert parts["loss"] == pytest.approx(expected, rel=1e-5) and "local" in parts
    single, _ = loss_fn(logits[:1], feats[:1], labels)
    assert float(single) == pytest.approx(one(logits[0], feats[0]), rel=1e-5)
    with_center = ReidLoss(LossConfig(center_weight=0.5), num_classes=3, feat_dim=8)
    t2, p2 = with_center(logits[:1], feats[:1], labels)
    assert float(t2.detach()) == pytest.approx(float(single.detach()) + 0.5 * p2["center"], rel=1e-5)
    with pytest.raises(ValueError, match="triplet_metric"):
        ReidLoss(LossConfig(triplet_metric="l1"), 3, 8)
