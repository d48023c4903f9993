"""k-reciprocal re-ranking (Zhong et al., CVPR 2017), defaults k1 = 20, k2 = 6, λ = 0.3.

Two images are more likely the same person when each is among the other's k nearest neighbours
(k-reciprocal). Every probe and gallery image gets a sparse vector over its (expanded) k-reciprocal
set, weighted by exp(-distance); vectors are averaged over the k2 nearest neighbours (local query
expansion) and compared with a Jaccard distance. The final distance blends Jaccard and the original
distance: (1 - λ)·jaccard + λ·original. Structure follows the authors' reference code, which
torchreid and fast-reid ship unchanged; ``original`` is the squared input distance normalised by
each column's maximum, as there.
"""
from __future__ import annotations

import numpy as np


def _k_reciprocal(initial_rank: np.ndarray, i: int, k: int) -> np.ndarray:
    """Indices j among i's k+1 nearest neighbours that have i among their own k+1 nearest."""
    forward = initial_rank[i, :k + 1]
    backward = initial_rank[forward, :k + 1]
    return forward[np.any(backward == i, axis=1)]


def re_ranking(q_g_dist: np.ndarray, q_q_dist: np.ndarray, g_g_dist: np.ndarray,
               k1: int = 20, k2: int = 6, lambda_value: float = 0.3) -> np.ndarray:
    """Re-ranked (num_query, num_gallery) distance matrix; inputs are plain distances."""
    q_g_dist, q_q_dist, g_g_dist = (np.asarray(d, dtype=np.float32) for d in (q_g_dist, q_q_dist, g_g_dist))
    num_q, num_g = q_g_dist.shape
    if q_q_dist.shape != (num_q, num_q) or g_g_dist.shape != (num_g, num_g):
        raise ValueError(f"shapes do not fit: q_g {q_g_dist.shape}, q_q {q_q_dist.shape}, g_g {g_g_dist.shape}")
    if k1 < 1 or k2 < 1:
        raise ValueError(f"k1 and k2 must be >= 1, got k1={k1}, k2={k2}")
    if not 0.0 <= lambda_value <= 1.0:
        raise ValueError(f"lambda_value must be in [0, 1], got {lambda_value}")
    all_num = num_q + num_g
    original = np.block([[q_q_dist, q_g_dist], [q_g_dist.T, g_g_dist]]) ** 2
    original = (original / np.maximum(original.max(axis=0), 1e-12)).T
    initial_rank = np.argsort(original, axis=1, kind="stable").astype(np.int64)
    k1 = min(k1, all_num - 1)
    half_k1 = int(np.around(k1 / 2.0))

    v = np.zeros((all_num, all_num), dtype=np.float32)
    for i in range(all_num):
        reciprocal = _k_reciprocal(initial_rank, i, k1)
        expansion = [reciprocal]
        for candidate in reciprocal:
            cand_reciprocal = _k_reciprocal(initial_rank, int(candidate), half_k1)
            if len(np.intersect1d(cand_reciprocal, reciprocal)) > 2.0 / 3.0 * len(cand_reciprocal):
                expansion.append(cand_reciprocal)
        members = np.unique(np.concatenate(expansion))
        weight = np.exp(-original[i, members])
        v[i, members] = weight / weight.sum()

    if k2 > 1:
        expanded = np.empty_like(v)
        for i in range(all_num):   # row by row: a (N, k2, N) gather would not fit for large galleries
            expanded[i] = v[initial_rank[i, :k2]].mean(axis=0)
        v = expanded

    # Jaccard distance through an inverted index: only images sharing a non-zero entry overlap.
    inv_index = [np.flatnonzero(v[:, col]) for col in range(all_num)]
    jaccard = np.zeros((num_q, all_num), dtype=np.float32)
    for i in range(num_q):
        overlap = np.zeros(all_num, dtype=np.float32)
        for col in np.flatnonzero(v[i]):
            rows = inv_index[col]
            overlap[rows] += np.minimum(v[i, col], v[rows, col])
        jaccard[i] = 1.0 - overlap / (2.0 - overlap)

    final = jaccard * (1.0 - lambda_value) + original[:num_q] * lambda_value
    return final[:, num_q:]
