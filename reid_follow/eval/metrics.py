"""CMC and mAP under the Market-1501 multi-camera protocol.

For each query the gallery is ranked by distance; gallery entries with the query's id *and* camera
are removed first (finding the same person in the same camera is not re-identification), and a
query with no correct match left is skipped because its AP is undefined. AP is the mean of the
precision at the rank of each correct match, so the digest's worked example (matches at ranks
1, 3, 6, 9, 10 and 2, 5, 7) gives AP 0.622 and 0.443 and mAP 0.5325.

Ties in distance keep gallery order (a stable sort), which is what torchreid and fast-reid do; the
result is deterministic but depends on gallery order, so tie-heavy distances (e.g. quantised
features) should be broken before evaluation if that matters.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class MetricInputError(ValueError):
    """Distance matrix and id / camera arrays that do not fit together."""


@dataclass(frozen=True)
class RankingResult:
    """Per-query detail behind :func:`cmc_map`, kept for reports and ranked-result plots."""

    cmc: np.ndarray          # (max_rank,) fraction of valid queries with a match within rank k
    mAP: float
    ap: np.ndarray           # (Q,) AP per query; NaN for skipped queries
    valid: np.ndarray        # (Q,) bool: query had at least one valid match
    num_valid: int


def _check(distmat: np.ndarray, q_pids, g_pids, q_camids, g_camids) -> tuple[np.ndarray, ...]:
    distmat = np.asarray(distmat)
    if distmat.ndim != 2:
        raise MetricInputError(f"distmat must be 2-D (num_query, num_gallery), got shape {distmat.shape}")
    q, g = distmat.shape
    arrays = []
    for name, arr, n in (("q_pids", q_pids, q), ("g_pids", g_pids, g),
                         ("q_camids", q_camids, q), ("g_camids", g_camids, g)):
        a = np.asarray(arr).reshape(-1)
        if a.shape[0] != n:
            raise MetricInputError(f"{name} has {a.shape[0]} entries but distmat is {q}x{g}")
        arrays.append(a)
    if q == 0 or g == 0:
        raise MetricInputError(f"empty query or gallery: distmat is {q}x{g}")
    if not np.all(np.isfinite(distmat)):
        raise MetricInputError("distmat contains NaN or infinite values")
    return (distmat, *arrays)


def rank_queries(distmat: np.ndarray, q_pids, g_pids, q_camids, g_camids,
                 max_rank: int = 50) -> RankingResult:
    """Rank the gallery for every query and score it (see the module docstring for the rules)."""
    if max_rank < 1:
        raise MetricInputError(f"max_rank must be >= 1, got {max_rank}")
    distmat, q_pids, g_pids, q_camids, g_camids = _check(distmat, q_pids, g_pids, q_camids, g_camids)
    num_q, num_g = distmat.shape
    order = np.argsort(distmat, axis=1, kind="stable")
    matches = g_pids[order] == q_pids[:, None]
    keep = ~(matches & (g_camids[order] == q_camids[:, None]))
    cmc_sum = np.zeros(max_rank, dtype=np.float64)
    ap = np.full(num_q, np.nan)
    valid = np.zeros(num_q, dtype=bool)
    for i in range(num_q):
        hits = matches[i][keep[i]]
        if not hits.any():
            continue
        valid[i] = True
        first = int(np.argmax(hits))
        if first < max_rank:
            cmc_sum[first:] += 1.0
        hit_ranks = np.flatnonzero(hits) + 1            # 1-based ranks of correct matches
        ap[i] = float(np.mean(np.arange(1, len(hit_ranks) + 1) / hit_ranks))
    num_valid = int(valid.sum())
    if num_valid == 0:
        raise MetricInputError("no query has a valid match in the gallery (different camera, same id)")
    return RankingResult(cmc=cmc_sum / num_valid, mAP=float(np.nanmean(ap)), ap=ap, valid=valid,
                         num_valid=num_valid)


def cmc_map(distmat: np.ndarray, q_pids, g_pids, q_camids, g_camids,
            max_rank: int = 50) -> tuple[np.ndarray, float]:
    """CMC curve (``cmc[k-1]`` = rank-k accuracy) and mAP; smaller distance = more similar."""
    r = rank_queries(distmat, q_pids, g_pids, q_camids, g_camids, max_rank)
    return r.cmc, r.mAP
