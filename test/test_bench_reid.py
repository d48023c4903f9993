"""``reid-follow bench reid``: the standard protocols' splits, the learned parts, and the JSON + plot it writes."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from reid_follow.bench import reid as bench
from reid_follow.reid import build_embedder


@pytest.fixture(scope="module")
def reid_root(shared_data: Path) -> Path:
    root = shared_data / "reid"
    if not (root / "VIPeR").exists() or not (root / "PRID2011").exists():
        pytest.skip(f"VIPeR / PRID2011 not found under {root}")
    return root


@pytest.fixture(scope="module")
def prid(reid_root: Path) -> bench.CrossCamera:
    return bench.load_dataset(build_embedder("hist"), reid_root / "PRID2011")


def test_prid_protocol_splits(prid: bench.CrossCamera) -> None:
    """100 probes from camera A; gallery = their camera-B crops + the 549 B-only persons; train disjoint."""
    probes = []
    for seed in (0, 1):
        probe, gallery, train = bench.split_indices(prid, seed)
        assert len(probe) == 100 and (prid.cams[probe] == 1).all()
        assert len(gallery) == 649 and (prid.cams[gallery] == 2).all()
        assert set(prid.pids[probe]) <= set(prid.pids[gallery])
        assert len(set(prid.pids[gallery]) - set(prid.pids[probe])) == 549
        assert not set(prid.pids[train]) & set(prid.pids[gallery])
        assert len(np.unique(prid.pids[train])) == 100 and set(prid.cams[train]) == {1, 2}
        probes.append(set(prid.pids[probe]))
    assert probes[0] != probes[1]                       # seeded splits differ


def test_online_ridge_matches_primal_solution(prid: bench.CrossCamera) -> None:
    """The batched Schur-complement dual equals the plain class-balanced ridge on real features."""
    probe, gallery, train = bench.split_indices(prid, 0)
    pos = np.stack([prid.feats[probe[:3]], prid.mirrored[probe[:3]]], axis=1).astype(np.float64)
    neg, queries = prid.feats[train].astype(np.float64), prid.feats[gallery[:20]].astype(np.float64)
    scores = bench.ridge_scores(pos, neg, queries)
    for j in range(3):
        x = np.concatenate([pos[j], neg])
        x = np.concatenate([x, np.ones((len(x), 1))], axis=1)
        y = np.r_[1.0, 1.0, np.zeros(len(neg))]
        sw = np.sqrt(np.r_[np.full(2, 0.25), np.full(len(neg), 0.5 / len(neg))] * len(x))
        xs = x * sw[:, None]
        w = xs.T @ np.linalg.solve(xs @ xs.T + bench.RIDGE_REG * np.eye(len(x)), sw * y)
        np.testing.assert_allclose(scores[j], queries @ w[:-1] + w[-1], atol=1e-8)
        # its own positive scores above every negative
        assert bench.ridge_scores(pos[j:j + 1], neg, pos[j])[0].min() > bench.ridge_scores(pos[j:j + 1], neg, neg)[0].max()


@pytest.mark.slow
def test_bench_writes_results(reid_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "reid.json"
    args = argparse.Namespace(shared=str(reid_root.parents[1]), embedders="hist", protocols="viper", splits=1,
                              sequences="", device="cpu", out=str(out))
    assert bench.main(args) == 0
    result = json.loads(out.read_text())
    viper = result["protocols"]["viper"]["hist"]
    assert set(viper) == set(bench.METHODS)
    for method, r in viper.items():
        assert len(r["cmc"]) == max(bench.RANKS) and np.all(np.diff(r["cmc"]) >= 0)
        assert 0.0 < r["rank1"] <= r["rank5"] <= r["rank10"] <= r["rank20"] <= 1.0
    # learning on the training half helps the colour histogram too
    assert viper["xqda"]["rank1"] > viper["features"]["rank1"] + 0.05
    assert (tmp_path / "reid-viper.png").stat().st_size > 10_000
    cost = result["cost"]["hist"]
    assert cost["crops_per_call"] >= 5 and cost["ms_per_crop"] > 0
