"""k-reciprocal re-ranking: ordering at λ = 1, gain on clustered features, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from reid_follow.eval.distance import pairwise_distance
from reid_follow.eval.metrics import cmc_map
from reid_follow.eval.rerank import _k_reciprocal, re_ranking


def _clustered(seed: int, ids: int = 30, per_id: int = 10, dim: int = 16):
    """Noisy features around one centre per id; the first image of each id is the query."""
    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(ids, dim)).repeat(per_id, 0) + rng.normal(size=(ids * per_id, dim))
    pids = np.arange(ids).repeat(per_id)
    cams = np.tile(np.arange(per_id) % 2, ids)
    is_q = np.tile(np.arange(per_id) == 0, ids)
    return feats[is_q], feats[~is_q], pids[is_q], pids[~is_q], cams[is_q], cams[~is_q]


def test_k_reciprocal_neighbours_by_hand() -> None:
    # nearest-first neighbour lists of 4 points; 0 and 1 are mutual, 2 lists 0 but 0 does not list 2
    initial_rank = np.array([[0, 1, 3, 2], [1, 0, 2, 3], [2, 0, 1, 3], [3, 2, 1, 0]])
    assert sorted(_k_reciprocal(initial_rank, 0, 1).tolist()) == [0, 1]
    assert sorted(_k_reciprocal(initial_rank, 2, 1).tolist()) == [2]
    assert sorted(_k_reciprocal(initial_rank, 2, 2).tolist()) == [1, 2]


def test_lambda_one_keeps_the_original_order() -> None:
    q, g, *_ = _clustered(1)
    dist = pairwise_distance(q, g)
    rr = re_ranking(dist, pairwise_distance(q, q), pairwise_distance(g, g), lambda_value=1.0)
    np.testing.assert_array_equal(np.argsort(rr, axis=1, kind="stable"), np.argsort(dist, axis=1, kind="stable"))


def test_rerank_raises_map_on_clustered_features() -> None:
    q, g, qp, gp, qc, gc = _clustered(0)
    dist = pairwise_distance(q, g)
    _, before = cmc_map(dist, qp, gp, qc, gc)
    rr = re_ranking(dist, pairwise_distance(q, q), pairwise_distance(g, g))
    assert rr.shape == dist.shape and np.all(np.isfinite(rr))
    _, after = cmc_map(rr, qp, gp, qc, gc)
    assert after > before + 0.08, (before, after)


def test_rerank_bad_input() -> None:
    d = np.zeros((2, 3))
    with pytest.raises(ValueError, match="shapes do not fit"):
        re_ranking(d, np.zeros((3, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="lambda_value"):
        re_ranking(d, np.zeros((2, 2)), np.zeros((3, 3)), lambda_value=2.0)
