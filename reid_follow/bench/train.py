"""``reid-follow bench train``: training-step throughput per model and evaluation time, as JSON.

Training: images/s of one full step (forward in train mode, CE + triplet loss, backward, Adam
step) on random images at each model's own input size, after warm-up steps; ``vs_small_cnn`` is
the ratio to the small CNN measured in the same run. Evaluation: seconds for the distance matrix
and the CMC/mAP ranking of 1k queries against a 10k gallery (random unit features), plus
re-ranking of a smaller 200 x 2k set (it is quadratic in query + gallery).
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

BASELINE = "small_cnn"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", default="", help="comma-separated model names (default: every registered model)")
    p.add_argument("--batch-size", type=int, default=16, help="images per training step (P = batch/4, K = 4)")
    p.add_argument("--steps", type=int, default=5, help="timed steps per model")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first (the first steps of a process are slow)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda[:i]")
    p.add_argument("--num-query", type=int, default=1000)
    p.add_argument("--num-gallery", type=int, default=10000)
    p.add_argument("--feat-dim", type=int, default=768)
    p.add_argument("--out", default="bench/results/train.json")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_step_rate(name: str, batch_size: int, steps: int, warmup: int, device: torch.device) -> dict:
    """images/s of full training steps of model ``name``."""
    from reid_follow.models import build_model
    from reid_follow.train.losses import LossConfig, ReidLoss

    num_classes = 100
    model = build_model(name, num_classes=num_classes).to(device).train()
    spec = model.spec
    loss_fn = ReidLoss(LossConfig(), num_classes, spec.feat_dim).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    k = 4
    labels = torch.arange(batch_size // k).repeat_interleave(k).to(device)
    images = torch.randn(len(labels), 3, *spec.input_size, device=device)
    use_amp = device.type == "cuda"
    times = []
    for i in range(warmup + steps):
        _sync(device)
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
            out = model(images)
        loss, _ = loss_fn(out.logits, [f.float() for f in out.feats], labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    per_step = float(np.median(times))
    return {"input_size": list(spec.input_size), "batch_size": len(labels), "amp": use_amp,
            "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
            "step_s_median": per_step, "images_per_s": len(labels) / per_step}


def eval_timing(num_query: int, num_gallery: int, dim: int) -> dict:
    from reid_follow.eval.distance import pairwise_distance
    from reid_follow.eval.metrics import cmc_map
    from reid_follow.eval.rerank import re_ranking

    rng = np.random.default_rng(0)
    ids = rng.integers(0, num_query, size=num_gallery)
    q_pids = np.arange(num_query)
    qf = rng.normal(size=(num_query, dim)).astype(np.float32)
    gf = rng.normal(size=(num_gallery, dim)).astype(np.float32) + 0.5 * qf[ids % num_query]
    t0 = time.perf_counter()
    dist = pairwise_distance(qf, gf, "cosine")
    t1 = time.perf_counter()
    _, m = cmc_map(dist, q_pids, ids, np.zeros(num_query), np.ones(num_gallery))
    t2 = time.perf_counter()
    nq, ng = min(200, num_query), min(2000, num_gallery)
    t3 = time.perf_counter()
    re_ranking(dist[:nq, :ng], pairwise_distance(qf[:nq], qf[:nq], "cosine"),
               pairwise_distance(gf[:ng], gf[:ng], "cosine"))
    t4 = time.perf_counter()
    return {"num_query": num_query, "num_gallery": num_gallery, "feat_dim": dim,
            "distance_s": t1 - t0, "ranking_s": t2 - t1, "total_s": t2 - t0, "mAP_of_random_set": m,
            "rerank_query": nq, "rerank_gallery": ng, "rerank_s": t4 - t3}


def main(args: argparse.Namespace) -> int:
    from reid_follow.models import list_models
    from reid_follow.reid.device import resolve_device
    from reid_follow.train import small_models  # noqa: F401  (registers small_cnn)

    device = resolve_device(args.device)
    names = [n for n in args.models.split(",") if n] or list_models()
    if BASELINE not in names:
        names.insert(0, BASELINE)
    train = {}
    for name in tqdm(names, desc="models", unit="model"):
        train[name] = train_step_rate(name, args.batch_size, args.steps, args.warmup, device)
    for r in train.values():
        r["vs_small_cnn"] = r["images_per_s"] / train[BASELINE]["images_per_s"]
    report = {"device": str(device), "cpu": platform.processor() or platform.machine(),
              "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
              "train_step": train, "eval": eval_timing(args.num_query, args.num_gallery, args.feat_dim)}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    for name, r in train.items():
        print(f"{name:24s} {r['images_per_s']:8.1f} img/s  ({r['vs_small_cnn']:.2f}x small_cnn, "
              f"input {r['input_size']}, batch {r['batch_size']})")
    e = report["eval"]
    print(f"eval {e['num_query']}x{e['num_gallery']}: distance {e['distance_s']:.2f}s, ranking {e['ranking_s']:.2f}s; "
          f"re-ranking {e['rerank_query']}x{e['rerank_gallery']}: {e['rerank_s']:.2f}s")
    print(f"wrote {out}")
    return 0
