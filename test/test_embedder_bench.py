"""The embed benchmark's timing core produces consistent rows (no speed is asserted)."""
from __future__ import annotations

import numpy as np

from reid_follow.bench.embed import _boxes, _compare_backends, time_embedder
from reid_follow.reid import build_embedder


def test_time_embedder_rows() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    boxes = _boxes(8, rng)
    assert ((boxes[:, 2] <= 1280) & (boxes[:, 3] <= 720) & (boxes[:, :2] >= 0).all(axis=1)).all()
    rows = time_embedder(build_embedder("default"), frame, boxes, [1, 8], repeats=2)
    assert [r["batch"] for r in rows] == [1, 8]
    for r in rows:
        assert r["ms_per_batch"] > 0 and r["per_crop_loop_ms"] > 0
        np.testing.assert_allclose(r["crops_per_s"], r["batch"] / (r["ms_per_batch"] / 1e3))
        np.testing.assert_allclose(r["batched_speedup"], r["per_crop_loop_ms"] / r["ms_per_batch"])
    both = [{"model": "m", "backend": b, "device": "cpu", "batch": 8, "crops_per_s": v}
            for b, v in (("torch", 10.0), ("onnxruntime", 25.0))]
    assert _compare_backends(both) == {"m@cpu": {"8": 2.5}}
