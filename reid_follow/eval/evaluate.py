"""Embed query and gallery with a model and score the ranking (CMC, mAP, optional re-ranking)."""
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


@torch.no_grad()
def extract_features(model: nn.Module, samples: Sequence[ReidSample], device: torch.device | str = "cpu",
                     batch_size: int = 64, flip: bool = False, num_workers: int = 0,
                     progress: bool = False) -> torch.Tensor:
    """(N, feat_dim) eval-mode embeddings; ``flip`` averages with the mirrored image's embedding.

    Crops of frames (samples with a box) are read once up front, each frame decoded once; whole
    image files stream through the loader.
    """
    spec = model.spec
    transform = eval_transform(tuple(spec.input_size), tuple(spec.mean), tuple(spec.std))
    has_boxes = any(s.box is not None for s in samples)
    data = ReidImageDataset(samples, transform, preload_size=tuple(spec.input_size) if has_boxes else None,
                            progress=progress)
    loader = DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    was_training = model.training
    model.eval()
    feats = []
    try:
        for images, *_ in tqdm(loader, desc="embedding", unit="batch", disable=not progress):
            images = images.to(device)
            f = model(images)
            if flip:
                f = (f + model(images.flip(3))) / 2
            feats.append(f.float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(feats)


def evaluate(model: nn.Module, dataset: ReidDataset, metric: Metric = "cosine", rerank: bool = False,
             flip: bool = False, device: torch.device | str = "cpu", batch_size: int = 64,
             max_rank: int = 50, num_workers: int = 0, progress: bool = False) -> EvalResult:
    """CMC / mAP of ``model`` on the dataset's query and gallery under the multi-camera rule."""
    if not dataset.query or not dataset.gallery:
        raise DatasetError(f"{dataset.name} at {dataset.root} has no query/gallery to evaluate on")
    feats = extract_features(model, dataset.query + dataset.gallery, device, batch_size, flip,
                             num_workers, progress)
    qf, gf = feats[:len(dataset.query)], feats[len(dataset.query):]
    distmat = pairwise_distance(qf, gf, metric)
    if rerank:
        distmat = re_ranking(distmat, pairwise_distance(qf, qf, metric), pairwise_distance(gf, gf, metric))
    ranking = rank_queries(distmat, [s.pid for s in dataset.query], [s.pid for s in dataset.gallery],
                           [s.camid for s in dataset.query], [s.camid for s in dataset.gallery], max_rank)
    return EvalResult(ranking, distmat, list(dataset.query), list(dataset.gallery), metric, rerank, flip)
