"""Parameters of ``reid-follow eval`` (the data part shares its names with training's ``data.*``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..config_base import param, section
from ..data.config import DataConfig
from .distance import METRICS


@dataclass
class EvalConfig:
    """What to evaluate on and how to rank."""

    metric: str = param("cosine", "distance: cosine | euclidean")
    rerank: bool = param(False, "also report k-reciprocal re-ranking (Zhong et al. 2017)")
    rerank_k1: int = param(20, "re-ranking k1 (k-reciprocal neighbours)")
    rerank_k2: int = param(6, "re-ranking k2 (local query expansion)")
    rerank_lambda: float = param(0.3, "re-ranking λ: weight of the original distance")
    flip: bool = param(False, "average each embedding with its mirror image's")
    device: str = param("auto", "auto | cpu | cuda[:i]")
    batch_size: int = param(64, "images per forward pass")
    max_rank: int = param(50, "length of the CMC curve")
    top_k: int = param(10, "gallery images per row of the ranked-results figure")
    num_ranked: int = param(6, "queries shown in the ranked-results figure")
    data: DataConfig = section(DataConfig, "query / gallery data")

    def validate(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {self.metric!r}")
        if min(self.batch_size, self.max_rank, self.top_k, self.num_ranked, self.rerank_k1, self.rerank_k2) < 1:
            raise ValueError("batch_size, max_rank, top_k, num_ranked, rerank_k1 and rerank_k2 must be >= 1")
        if not 0.0 <= self.rerank_lambda <= 1.0:
            raise ValueError(f"rerank_lambda must be in [0, 1], got {self.rerank_lambda}")
