"""``reid-follow bench embed``: crops/s and ms/batch of the embedders, batched vs a per-crop loop.

For each model and backend (torch, onnxruntime) and batch size (1, 8, 32 crops of one frame),
``embed(frame, boxes)`` is timed after a warm-up; the baseline is the same model and backend
called once per crop (``embed(frame, box[i:i+1])``) in the same run, and ``batched_speedup`` =
per-crop-loop time / batched time. ``onnxruntime_vs_torch`` compares crops/s of the two backends
on the same model and batch. Models run with random weights (speed does not depend on them) at
256x128: rga_sc_r50, vit_small_transreid, the default histogram embedder, and OSNet when
``--onnx`` gives its file. On CUDA machines a GPU section times ``--gpu-models`` (RGA-SC and
ViT-B/16 by default) at ``--gpu-batch-sizes`` (1 to 64) through torch with fp16 autocast and
onnxruntime with its TensorRT / CUDA providers when installed.
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

MODELS = ("rga_sc_r50", "vit_small_transreid")
GPU_MODELS = ("rga_sc_r50", "vit_base_transreid")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--onnx", help="also time this ONNX ReID model (e.g. osnet_x0_25_msmt17.onnx)")
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated registry models (torch + ONNX export)")
    p.add_argument("--batch-sizes", default="1,8,32", help="comma-separated crops per call")
    p.add_argument("--gpu-models", default=",".join(GPU_MODELS), help="registry models of the CUDA section")
    p.add_argument("--gpu-batch-sizes", default="1,8,16,32,64", help="crops per call in the CUDA section")
    p.add_argument("--repeats", type=int, default=2, help="timed calls per setting (median reported)")
    p.add_argument("--quick", action="store_true", help="one timed call, batches 1 and 8 only")
    p.add_argument("--no-gpu", action="store_true", help="skip the CUDA section even when CUDA is present")
    p.add_argument("--out", default="bench/results/embed.json")


def _boxes(n: int, rng: np.random.Generator, height: int = 720, width: int = 1280) -> np.ndarray:
    """``n`` person-shaped boxes (2:1 to 3:1) inside a ``height`` x ``width`` frame."""
    h = rng.uniform(120, 400, n)
    w = h / rng.uniform(2.0, 3.0, n)
    x = rng.uniform(0, width - w)
    y = rng.uniform(0, height - h)
    return np.stack([x, y, x + w, y + h], axis=1).astype(np.float32)


def _median_time(fn, repeats: int, sync) -> float:
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def time_embedder(embedder, frame: np.ndarray, boxes: np.ndarray, batch_sizes: list[int], repeats: int,
                  sync=lambda: None) -> list[dict]:
    """Batched and per-crop-loop timings of one embedder; one row per batch size."""
    rows = []
    embedder.embed(frame, boxes[:max(batch_sizes)])                 # warm-up at the largest batch
    for b in batch_sizes:
        crops = boxes[:b]
        batched = _median_time(lambda: embedder.embed(frame, crops), repeats, sync)
        loop = _median_time(lambda: [embedder.embed(frame, crops[i:i + 1]) for i in range(b)], repeats, sync)
        rows.append({"batch": b, "ms_per_batch": 1e3 * batched, "crops_per_s": b / batched,
                     "per_crop_loop_ms": 1e3 * loop, "batched_speedup": loop / batched})
    return rows


def _section(device: str, args: argparse.Namespace, models: str, frame: np.ndarray, boxes: np.ndarray,
             batch_sizes: list[int], repeats: int, workdir: Path) -> list[dict]:
    from reid_follow.models import build_model
    from reid_follow.models.export import export_onnx
    from reid_follow.reid import EmbedderConfig, build_embedder
    from reid_follow.reid.onnx_backend import OnnxEmbedder, onnx_providers
    from reid_follow.reid.hist import CROP_SIZE
    from reid_follow.reid.torch_backend import TorchEmbedder

    cuda = device.startswith("cuda")
    sync = (lambda: torch.cuda.synchronize()) if cuda else (lambda: None)
    config = EmbedderConfig(max_batch=max(batch_sizes), fp16=True)
    try:
        onnx_device = device if not cuda or onnx_providers(device) else None
    except ValueError:
        onnx_device = None                                           # no GPU provider: skip ORT on GPU
    results = []
    jobs = []
    for name in [m for m in models.split(",") if m]:
        model = build_model(name).eval()
        jobs.append((name, "torch", lambda m=model: TorchEmbedder(m, device, config)))
        if onnx_device:
            path = workdir / f"{name}.onnx"
            if not path.exists():
                export_onnx(model, path, dynamic_batch=True)
            jobs.append((name, "onnxruntime", lambda p=path: OnnxEmbedder(p, onnx_device, config)))
    if not cuda:
        jobs.append(("default", "numpy", lambda: build_embedder("default")))
    if args.onnx and onnx_device:
        jobs.append((Path(args.onnx).stem, "onnxruntime", lambda: OnnxEmbedder(args.onnx, onnx_device, config)))
    for name, backend, make in tqdm(jobs, desc=f"embed bench ({device})"):
        embedder = make()
        extra = {"providers": embedder.providers} if backend == "onnxruntime" else {}
        if backend == "torch":
            extra = {"fp16_autocast": embedder.autocast}
        extra["input_size"] = list(getattr(embedder, "input_size", None) or getattr(embedder, "spec").input_size) \
            if backend != "numpy" else list(CROP_SIZE)
        for row in time_embedder(embedder, frame, boxes, batch_sizes, repeats, sync):
            results.append({"model": name, "backend": backend, "device": device, **extra, **row})
    return results


def _compare_backends(results: list[dict]) -> dict:
    """crops/s of onnxruntime divided by torch, per model, device and batch."""
    index = {(r["model"], r["backend"], r["device"], r["batch"]): r["crops_per_s"] for r in results}
    out: dict[str, dict[str, float]] = {}
    for (model, backend, device, batch), rate in index.items():
        torch_rate = index.get((model, "torch", device, batch))
        if backend == "onnxruntime" and torch_rate:
            out.setdefault(f"{model}@{device}", {})[str(batch)] = rate / torch_rate
    return out


def _plot(results: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = sorted({(r["model"], r["backend"], r["device"]) for r in results})
    batches = sorted({r["batch"] for r in results})
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(labels)), 4))
    width = 0.8 / len(batches)
    for j, b in enumerate(batches):
        vals = [next((r["crops_per_s"] for r in results if (r["model"], r["backend"], r["device"]) == lab
                      and r["batch"] == b), 0) for lab in labels]
        ax.bar(np.arange(len(labels)) + j * width, vals, width, label=f"batch {b}")
    ax.set_xticks(np.arange(len(labels)) + width * (len(batches) - 1) / 2)
    ax.set_xticklabels([f"{m}\n{b}/{d}" for m, b, d in labels], fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("crops / s (log)")
    ax.set_title("Embedding throughput (crops of one 1280x720 frame)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    batch_sizes = [1, 8] if args.quick else [int(b) for b in args.batch_sizes.split(",")]
    repeats = 1 if args.quick else args.repeats
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    gpu_batch_sizes = [1, 8] if args.quick else [int(b) for b in args.gpu_batch_sizes.split(",")]
    boxes = _boxes(max(batch_sizes + gpu_batch_sizes), rng)
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        results += _section("cpu", args, args.models, frame, boxes, batch_sizes, repeats, Path(tmp))
        if torch.cuda.is_available() and not args.no_gpu:
            results += _section("cuda", args, args.gpu_models, frame, boxes, gpu_batch_sizes, repeats, Path(tmp))
    report = {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                          "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                          "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None},
              "frame_size": list(frame.shape[:2]), "repeats": repeats, "results": results,
              "onnxruntime_vs_torch": _compare_backends(results)}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    _plot(results, out.with_suffix(".png"))
    for r in results:
        print(f"{r['model']:>22} {r['backend']:>11} {r['device']:>4} batch {r['batch']:>2}: "
              f"{r['crops_per_s']:8.1f} crops/s, {r['ms_per_batch']:8.1f} ms/batch, "
              f"batched x{r['batched_speedup']:.2f} vs per-crop loop")
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return 0
