"""Embed query and gallery with a model and score the ranking (CMC, mAP, optional re-ranking).

A model with side information (TransReID SIE) is fed each image's camera id, as the official
evaluation does: without it an SIE checkpoint cannot reproduce its published numbers.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..data.base import DatasetError, ReidDataset, ReidSample
from ..data.torch_dataset import ReidImageDataset
from ..data.transforms import eval_transform
from .distance import Metric, pairwise_distance
from .metrics import RankingResult, rank_queries
from .rerank import re_ranking


@dataclass(frozen=True)
class EvalResult:
    """Scores plus what the reports draw (distances, features, the samples they belong to)."""

    ranking: RankingResult
    distmat: np.ndarray
    query_feats: torch.Tensor
    gallery_feats: torch.Tensor
    query: list[ReidSample]
    gallery: list[ReidSample]
    metric: str
    rerank: bool
    flip: bool

    def summary(self, ranks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
        out = {"mAP": self.ranking.mAP}
        out.update({f"rank{k}": float(self.ranking.cmc[k - 1]) for k in ranks if k <= len(self.ranking.cmc)})
        out.update(num_query=len(self.query), num_valid_query=self.ranking.num_valid, num_gallery=len(self.gallery))
        return out


def eval_data(samples: Sequence[ReidSample], spec, progress: bool = False) -> ReidImageDataset:
    """Samples with the model's eval transform; crops of frames (samples with a box) are read once
    up front, each frame decoded once, while whole image files stream through the loader."""
    transform = eval_transform(tuple(spec.input_size), tuple(spec.mean), tuple(spec.std))
    has_boxes = any(s.box is not None for s in samples)
    return ReidImageDataset(samples, transform, preload_size=tuple(spec.input_size) if has_boxes else None,
                            progress=progress)


def check_camera_ids(model: nn.Module, samples: Sequence[ReidSample]) -> None:
    """Every camera id of ``samples`` has a row in the model's camera SIE table (no-op without SIE)."""
    if not getattr(model, "has_sie", False) or model.backbone.camera_num <= 0 or not samples:
        return
    cameras = model.backbone.camera_num
    top = max(s.camid for s in samples)
    if top >= cameras:
        raise ValueError(f"{model.spec.name} has an SIE table of {cameras} cameras, but the data has camera ids "
                         f"up to {top}: train / evaluate with as many cameras as the data has")


@torch.no_grad()
def extract_features(model: nn.Module, data: ReidImageDataset, device: torch.device | str = "cpu",
                     batch_size: int = 64, flip: bool = False, num_workers: int = 0,
                     progress: bool = False) -> torch.Tensor:
    """(N, feat_dim) eval-mode embeddings; ``flip`` averages with the mirrored image's embedding.

    A model with SIE gets each sample's camera id as its camera label.
    """
    check_camera_ids(model, data.samples)
    sie = getattr(model, "has_sie", False)
    loader = DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    was_training = model.training
    model.eval()
    feats = []
    try:
        for images, _, camids, _ in tqdm(loader, desc="embedding", unit="batch", disable=not progress):
            images = images.to(device)
            labels = (camids.to(device),) if sie else ()
            f = model(images, *labels)
            if flip:
                f = (f + model(images.flip(3), *labels)) / 2
            feats.append(f.float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(feats)


def evaluate(model: nn.Module, dataset: ReidDataset, metric: Metric = "cosine", rerank: bool = False,
             flip: bool = False, device: torch.device | str = "cpu", batch_size: int = 64,
             max_rank: int = 50, num_workers: int = 0, progress: bool = False,
             data: ReidImageDataset | None = None) -> EvalResult:
    """CMC / mAP of ``model`` on the dataset's query and gallery under the multi-camera rule.

    ``data`` (from :func:`eval_data` on query + gallery) lets repeated evaluations skip re-reading.
    """
    if not dataset.query or not dataset.gallery:
        raise DatasetError(f"{dataset.name} at {dataset.root} has no query/gallery to evaluate on")
    if data is None:
        data = eval_data(dataset.query + dataset.gallery, model.spec, progress)
    elif len(data) != len(dataset.query) + len(dataset.gallery):
        raise ValueError(f"eval data holds {len(data)} images, query + gallery {len(dataset.query) + len(dataset.gallery)}")
    feats = extract_features(model, data, device, batch_size, flip, num_workers, progress)
    return score(feats[:len(dataset.query)], feats[len(dataset.query):], dataset.query, dataset.gallery,
                 metric, rerank, flip, max_rank)


def score(qf: torch.Tensor, gf: torch.Tensor, query: Sequence[ReidSample], gallery: Sequence[ReidSample],
          metric: Metric = "cosine", rerank: bool = False, flip: bool = False, max_rank: int = 50,
          rerank_options: dict[str, float] | None = None) -> EvalResult:
    """Rank and score given features (re-use them to compare metrics or re-ranking without re-embedding).

    ``rerank_options`` go to :func:`re_ranking` (k1, k2, lambda_value).
    """
    distmat = pairwise_distance(qf, gf, metric)
    if rerank:
        distmat = re_ranking(distmat, pairwise_distance(qf, qf, metric), pairwise_distance(gf, gf, metric),
                             **(rerank_options or {}))
    ranking = rank_queries(distmat, [s.pid for s in query], [s.pid for s in gallery],
                           [s.camid for s in query], [s.camid for s in gallery], max_rank)
    return EvalResult(ranking, distmat, qf, gf, list(query), list(gallery), metric, rerank, flip)
