"""``bench follow``'s core measurement on a real frame: the embedder's time is split from the rest."""
from __future__ import annotations

import cv2

from reid_follow.bench.follow import bench_core
from reid_follow.reid import build_embedder


def test_core_bench_splits_the_embedders_time_from_the_rest(mot16_05) -> None:
    frame = cv2.imread(str(mot16_05 / "img1" / "000001.jpg"))
    lookup = bench_core(frame, 5, 20)
    real = bench_core(frame, 5, 20, embedder=build_embedder("default"))
    for r in (lookup, real):
        assert r["embedded_per_frame"] > 0
        assert 0 < r["embed_ms_median"] and 0 < r["ms_median_without_embedder"] < r["ms_median"]
    # the default descriptor costs far more per crop than a table lookup
    assert real["embed_ms_median"] > 2 * lookup["embed_ms_median"]
