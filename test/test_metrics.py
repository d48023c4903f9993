"""CMC / mAP: the digest's worked example, ties, skipped queries and the same-camera rule."""
from __future__ import annotations

import numpy as np
import pytest

from reid_follow.eval.distance import pairwise_distance
from reid_follow.eval.metrics import MetricInputError, cmc_map, rank_queries


def _ranked_gallery(match_ranks: list[int], size: int, pid: int) -> tuple[np.ndarray, np.ndarray]:
    """Distances 0..size-1 (rank r at distance r-1) and gallery ids with ``pid`` at match_ranks."""
    g_pids = np.array([pid if r + 1 in match_ranks else 1000 + r for r in range(size)])
    return np.arange(size, dtype=np.float64), g_pids


def test_seed_worked_example() -> None:
    d1, g1 = _ranked_gallery([1, 3, 6, 9, 10], 10, pid=1)
    d2, g2 = _ranked_gallery([2, 5, 7], 10, pid=2)
    # one gallery of 20 images; each query sees the other query's gallery half far away
    distmat = np.stack([np.concatenate([d1, d2 + 100]), np.concatenate([d1 + 100, d2])])
    g_pids = np.concatenate([g1, g2])
    r = rank_queries(distmat, [1, 2], g_pids, [0, 0], np.ones(20, int), max_rank=10)
    assert r.ap[0] == pytest.approx((1 / 1 + 2 / 3 + 3 / 6 + 4 / 9 + 5 / 10) / 5)
    assert round(r.ap[0], 3) == 0.622
    assert round(r.ap[1], 3) == 0.443
    assert r.mAP == pytest.approx(0.5325, abs=5e-5)
    assert round(r.mAP, 2) == 0.53
    np.testing.assert_allclose(r.cmc[:3], [0.5, 1.0, 1.0])   # query 1 hits at rank 1, query 2 at rank 2


def test_ties_keep_gallery_order() -> None:
    distmat = np.array([[0.5, 0.5, 0.9]])
    cmc, m = cmc_map(distmat, [7], [3, 7, 7], [0], [1, 1, 1], max_rank=3)
    assert cmc[0] == 0.0 and m == pytest.approx((1 / 2 + 2 / 3) / 2)
    cmc, m = cmc_map(distmat, [7], [7, 3, 7], [0], [1, 1, 1], max_rank=3)
    assert cmc[0] == 1.0 and m == pytest.approx((1 + 2 / 3) / 2)


def test_queries_without_valid_match_are_skipped() -> None:
    # query 0 (id 5, cam 0) only has its id in camera 0 -> skipped; query 1 has id 6 in camera 1
    distmat = np.array([[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]])
    r = rank_queries(distmat, [5, 6], [5, 9, 6], [0, 0], [0, 1, 1], max_rank=3)
    assert r.valid.tolist() == [False, True]
    assert r.num_valid == 1 and np.isnan(r.ap[0])
    assert r.mAP == 1.0 and r.cmc[0] == 1.0
    with pytest.raises(MetricInputError, match="no query has a valid match"):
        cmc_map(distmat[:1], [5], [5, 9, 6], [0], [0, 1, 1])


def test_same_id_same_camera_excluded_but_other_ids_in_that_camera_kept() -> None:
    # gallery by distance: id 1 cam 0 (removed: same id + camera), id 2 cam 0 (kept), id 1 cam 1
    distmat = np.array([[0.0, 0.1, 0.2]])
    cmc, m = cmc_map(distmat, [1], [1, 2, 1], [0], [0, 0, 1], max_rank=3)
    assert cmc.tolist() == [0.0, 1.0, 1.0] and m == pytest.approx(0.5)
    # the same id in another camera counts even when the camera id matches another query's
    cmc, m = cmc_map(distmat, [1], [1, 2, 1], [2], [0, 0, 1], max_rank=3)
    assert cmc[0] == 1.0 and m == pytest.approx((1 + 2 / 3) / 2)


def test_bad_shapes_and_values_raise() -> None:
    with pytest.raises(MetricInputError, match="g_pids has 2 entries"):
        cmc_map(np.zeros((1, 3)), [1], [1, 2], [0], [1, 1, 1])
    with pytest.raises(MetricInputError, match="NaN"):
        cmc_map(np.array([[np.nan, 1.0]]), [1], [1, 2], [0], [1, 1])
    with pytest.raises(MetricInputError, match="2-D"):
        cmc_map(np.zeros(3), [1], [1, 2, 3], [0], [1, 1, 1])


def test_distances_match_definitions() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 8)), rng.normal(size=(5, 8))
    euc = np.linalg.norm(a[:, None] - b[None], axis=2)
    np.testing.assert_allclose(pairwise_distance(a, b, "euclidean"), euc, rtol=1e-5, atol=1e-5)
    cos = 1 - (a / np.linalg.norm(a, axis=1, keepdims=True)) @ (b / np.linalg.norm(b, axis=1, keepdims=True)).T
    np.testing.assert_allclose(pairwise_distance(a, b, "cosine"), cos, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="unknown metric"):
        pairwise_distance(a, b, "manhattan")  # type: ignore[arg-type]
