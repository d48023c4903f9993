"""The embed benchmark's timing core produces consistent rows (no speed is asserted), and its overhead
rows compare ``embed`` with the bare model on the same crops."""
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


def test_overhead_compares_the_same_crops(mot16_05, shared_models) -> None:
    """The bare model runs on exactly the crops ``embed`` sees, and the ratio is of those timings."""
    import torch

    from reid_follow.bench.embed import bare_model, real_samples, time_overhead
    from reid_follow.models import build_model
    from reid_follow.reid.onnx_backend import OnnxEmbedder
    from reid_follow.reid.torch_backend import TorchEmbedder

    samples = real_samples(mot16_05, 3, 2)
    assert len(samples) == 2 and all(len(boxes) == 3 for _, _, boxes in samples)
    assert samples[0][0] != samples[1][0]                            # two different frames
    for embedder in (OnnxEmbedder(shared_models / "osnet_x0_25_msmt17.onnx", "cpu"),
                     TorchEmbedder(build_model("small_cnn").eval(), "cpu")):
        backend, make, run = bare_model(embedder)
        for _, frame, boxes in samples:
            bare = torch.nn.functional.normalize(torch.as_tensor(np.asarray(run(make(frame, boxes)))).float(), dim=1)
            np.testing.assert_allclose(bare.numpy(), embedder.embed(frame, boxes), atol=1e-5)
        row = time_overhead(embedder, samples, calls=3)
        assert row["backend"] == backend and row["crops"] == 3 and row["frames"] == [f for f, _, _ in samples]
        for key in ("embed", "model", "embed_cpu", "model_cpu"):
            assert len(row["calls_ms"][key]) == 3 and min(row["calls_ms"][key]) > 0
        assert row["embed_ms"] == np.median(row["calls_ms"]["embed"])
        assert row["model_ms"] == np.median(row["calls_ms"]["model"])
        np.testing.assert_allclose(row["overhead"], row["embed_ms"] / row["model_ms"] - 1)
        np.testing.assert_allclose(row["overhead_cpu"], row["embed_cpu_ms"] / row["model_cpu_ms"] - 1)
        assert row["prep_ms"] > 0


def test_follower_cost_splits_update_time(mot16_05) -> None:
    from reid_follow.bench.embed import follower_cost, real_samples

    frames = [(frame, boxes) for _, frame, boxes in real_samples(mot16_05, 2, 6)]
    assert len(frames) == 6 and all(f.shape == (480, 640, 3) for f, _ in frames)
    row = follower_cost(frames, build_embedder("default"), fps=14.0)
    assert row["frames"] == 6 and row["crops_per_frame"] > 0
    assert row["embed_ms_per_frame"] > 0 and row["rest_ms_per_frame"] > 0
    np.testing.assert_allclose(row["ms_per_frame"], row["embed_ms_per_frame"] + row["rest_ms_per_frame"])
    assert 0.0 <= row["tracking_fraction"] <= 1.0
