"""``reid-follow bench embed``: what the embedders cost, beside what their models cost.

Three sections, all in ``bench/results/embed.json`` (``--sections``):

* ``overhead``: on real frames and ground-truth boxes (MOT16-05, 1/2/3/5 people per call), each
  call of ``embed(frame, boxes)`` is timed beside the bare model on the input tensor made from the
  same crops beforehand (the onnxruntime session's ``run``; the torch module's forward), the two
  interleaved call by call so that load on a shared machine hits both alike. ``overhead`` =
  embed / model - 1 of the medians (crop, resize, normalise, batching, output normalisation),
  ``overhead_cpu`` the same in process CPU time (steadier on a busy machine); ``prep_ms`` is the
  crop + normalise part alone; ``calls_ms`` keeps every timed call. ONNX: ``--onnx`` (OSNet x0.25 from
  ``../shared/models`` by default); torch: ``--torch-model`` with random weights.
* ``follower``: ms/frame of ``TargetFollower.update`` on MOT16-05 (frames decoded beforehand,
  visible ground-truth boxes as detections, the largest person enrolled on the first frame) per
  embedder (``--follower-embedders``), split into the embedder's share and the rest; the fastest
  of ``--repeats`` runs (the least disturbed) is reported.
* ``throughput``: crops/s and ms/batch for random-weight registry models (torch and onnxruntime),
  the default embedder and the ``--onnx`` model at batch 1, 8, 32 crops of one 1280x720 frame; the
  baseline is the same embedder called once per crop in the same run (``batched_speedup``), and
  ``onnxruntime_vs_torch`` compares the backends. On CUDA machines a GPU section times
  ``--gpu-models`` at ``--gpu-batch-sizes`` through torch (fp16 autocast) and onnxruntime.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

MODELS = ("rga_sc_r50", "vit_small_transreid")
GPU_MODELS = ("rga_sc_r50", "vit_base_transreid")
SECTIONS = ("overhead", "follower", "throughput")
OSNET = "models/osnet_x0_25_msmt17.onnx"
OVERHEAD_CROPS = (1, 2, 3, 5)   # the follower embeds 1-5 crops a frame


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    p.add_argument("--shared", default="../shared", help="folder with data/MOT16-05-first48 and " + OSNET)
    p.add_argument("--onnx", help=f"ONNX ReID model of the overhead section, also timed for throughput "
                                  f"(default: {OSNET} under --shared when present)")
    p.add_argument("--torch-model", default="small_cnn", help="registry model of the overhead section's torch path")
    p.add_argument("--follower-embedders", default="default,hist,onnx",
                   help="embedder specs of the follower section; 'onnx' stands for the --onnx model")
    p.add_argument("--overhead-calls", type=int, default=24, help="timed embed / model call pairs per crop count")
    p.add_argument("--overhead-threads", type=int, default=1,
                   help="torch and onnxruntime threads in the overhead section (0: their defaults); with 1 the "
                        "ratio compares work done, not how a busy machine's scheduler shared its cores")
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated registry models (torch + ONNX export)")
    p.add_argument("--batch-sizes", default="1,8,32", help="comma-separated crops per call")
    p.add_argument("--gpu-models", default=",".join(GPU_MODELS), help="registry models of the CUDA section")
    p.add_argument("--gpu-batch-sizes", default="1,8,16,32,64", help="crops per call in the CUDA section")
    p.add_argument("--repeats", type=int, default=2, help="timed calls per throughput setting (median reported), "
                                                          "follower runs per embedder (fastest reported)")
    p.add_argument("--quick", action="store_true", help="one timed call, batches 1 and 8 only; 6 overhead pairs")
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


def real_samples(seq: Path, people: int, count: int) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Up to ``count`` (frame number, BGR frame, boxes) of ``seq`` with ``people`` visible pedestrians each.

    Boxes are the ground truth's pedestrians (flag 1, class 1, visibility >= 0.5), largest first,
    xyxy; frames are spread over the sequence.
    """
    import cv2

    from reid_follow.mot import read_mot, xywh_to_xyxy

    gt = read_mot(seq / "gt" / "gt.txt")
    keep = (gt.score == 1) & (gt.cls == 1) & (gt.visibility >= 0.5)
    frames = [f for f in np.unique(gt.frame[keep]) if np.sum(keep & (gt.frame == f)) >= people]
    out = []
    for f in frames[::max(1, len(frames) // count)][:count]:
        m = keep & (gt.frame == f)
        boxes = xywh_to_xyxy(gt.xywh[m])
        order = np.argsort(-(boxes[:, 3] - boxes[:, 1]), kind="stable")[:people]
        out.append((int(f), cv2.imread(str(seq / "img1" / f"{f:06d}.jpg")), boxes[order].astype(np.float32)))
    return out


def bare_model(embedder) -> tuple[str, Callable[[np.ndarray, np.ndarray], object], Callable[[object], object]]:
    """(backend, make_input(frame, boxes), run(input)) of an ONNX or torch embedder's bare model.

    ``make_input`` is the embedder's own preprocessing, done before the clock starts; ``run`` is
    only the model: ``InferenceSession.run`` (with a camera feed for SIE graphs) or the torch module's
    forward (synchronised on CUDA).
    """
    import torch

    from reid_follow.reid.crops import crop_boxes
    from reid_follow.reid.onnx_backend import OnnxEmbedder
    from reid_follow.reid.torch_backend import TorchEmbedder

    if isinstance(embedder, OnnxEmbedder):
        def make(frame, boxes):                 # a copy: preprocess returns the embedder's reused buffer
            return embedder.preprocess(frame, boxes).astype(embedder.input_dtype, copy=True)
        return "onnxruntime", make, embedder._run       # InferenceSession.run with the model's feeds, nothing else
    if isinstance(embedder, TorchEmbedder):
        spec, device = embedder.spec, embedder.device

        def run(x):
            with torch.inference_mode():
                y = embedder._forward(x)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            return y
        return "torch", lambda frame, boxes: crop_boxes(frame, boxes, spec.input_size, device, spec.mean, spec.std), run
    raise TypeError(f"{type(embedder).__name__} has no bare model to compare with")


def time_overhead(embedder, samples: list[tuple[int, np.ndarray, np.ndarray]], calls: int) -> dict:
    """Median ms of ``embed`` and of the bare model on the same crops, timed in interleaved pairs.

    Each pair runs one sample (cycling through ``samples``) through ``embed(frame, boxes)`` and its
    pre-made model input through the bare model, in alternating order; ``prep_ms`` times the
    preprocessing alone. Wall time and the process's CPU time (all its threads) are both kept: on
    a shared machine the CPU time is the steadier measure of the work each does.
    """
    backend, make, run = bare_model(embedder)
    inputs = [make(frame, boxes) for _, frame, boxes in samples]
    times: dict[str, list[float]] = {k: [] for k in ("embed", "model", "prep", "embed_cpu", "model_cpu")}

    def clocked(fn) -> tuple[float, float]:
        w, c = time.perf_counter(), time.process_time()
        fn()
        return time.perf_counter() - w, time.process_time() - c

    for i in range(-2, calls):                                         # two warm-up pairs
        _, frame, boxes = samples[i % len(samples)]
        pair = [("embed", lambda: embedder.embed(frame, boxes)), ("model", lambda: run(inputs[i % len(samples)]))]
        measured = {name: clocked(fn) for name, fn in (pair if i % 2 == 0 else pair[::-1])}
        prep = clocked(lambda: make(frame, boxes))[0]
        if i >= 0:
            for name in ("embed", "model"):
                times[name].append(1e3 * measured[name][0])
                times[name + "_cpu"].append(1e3 * measured[name][1])
            times["prep"].append(1e3 * prep)
    med = {k: float(np.median(v)) for k, v in times.items()}
    return {"backend": backend, "crops": int(len(samples[0][2])), "frames": [f for f, _, _ in samples],
            "calls": calls, "embed_ms": med["embed"], "model_ms": med["model"], "prep_ms": med["prep"],
            "overhead": med["embed"] / med["model"] - 1.0, "embed_cpu_ms": med["embed_cpu"],
            "model_cpu_ms": med["model_cpu"], "overhead_cpu": med["embed_cpu"] / med["model_cpu"] - 1.0,
            "calls_ms": {k: times[k] for k in ("embed", "model", "embed_cpu", "model_cpu")}}


def overhead_section(args: argparse.Namespace, onnx_path: Path | None, device: str) -> list[dict]:
    """``time_overhead`` rows for the ONNX model and the torch registry model at each crop count."""
    from reid_follow.models import build_model
    from reid_follow.reid import EmbedderConfig
    from reid_follow.reid.onnx_backend import OnnxEmbedder
    from reid_follow.reid.torch_backend import TorchEmbedder

    seq = Path(args.shared) / "data" / "MOT16-05-first48"
    if not seq.is_dir():
        logging.warning("overhead section skipped: %s not found", seq)
        return []
    config = EmbedderConfig(onnx_threads=max(0, args.overhead_threads))
    torch_threads = torch.get_num_threads()
    if args.overhead_threads > 0:
        torch.set_num_threads(args.overhead_threads)
    try:
        embedders = [(args.torch_model, TorchEmbedder(build_model(args.torch_model).eval(), device, config))]
        if onnx_path is not None:
            embedders.insert(0, (onnx_path.stem, OnnxEmbedder(onnx_path, device, config)))
        calls = 6 if args.quick else args.overhead_calls
        rows = []
        for people in tqdm(OVERHEAD_CROPS, desc="overhead (crops per call)"):
            samples = real_samples(seq, people, 8)
            if not samples:
                logging.warning("overhead: no frame of %s shows %d visible people", seq.name, people)
                continue
            for name, embedder in embedders:
                rows.append({"model": name, "device": device, "threads": args.overhead_threads,
                             **time_overhead(embedder, samples, calls)})
    finally:
        torch.set_num_threads(torch_threads)
    return rows


class _TimedEmbedder:
    """Passes ``embed`` through and adds up its wall time and crop count."""

    def __init__(self, embedder) -> None:
        self.embedder, self.dim = embedder, embedder.dim
        self.seconds, self.crops = 0.0, 0

    def embed(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        out = self.embedder.embed(frame, boxes)
        self.seconds += time.perf_counter() - t0
        self.crops += len(boxes)
        return out


def follower_cost(frames: list[tuple[np.ndarray, np.ndarray]], embedder, fps: float) -> dict:
    """ms/frame of ``TargetFollower.update`` over ``frames`` (the largest person enrolled on the first)."""
    from reid_follow.follow.config import FollowConfig
    from reid_follow.follow.follower import TargetFollower
    from reid_follow.follow.types import Observation

    timed = _TimedEmbedder(embedder)
    follower = TargetFollower(FollowConfig(), timed)
    total, states = 0.0, []
    for i, (frame, boxes) in enumerate(frames):
        t0 = time.perf_counter()
        out = follower.update(Observation(frame, boxes, np.ones(len(boxes)), stamp=i / fps))
        if i == 0:
            follower.enroll(rule="largest")
        total += time.perf_counter() - t0
        states.append(str(out.state))
    n = len(frames)
    return {"frames": n, "ms_per_frame": 1e3 * total / n, "embed_ms_per_frame": 1e3 * timed.seconds / n,
            "rest_ms_per_frame": 1e3 * (total - timed.seconds) / n, "crops_per_frame": timed.crops / n,
            "tracking_fraction": float(np.mean([s == "tracking" for s in states]))}


def follower_section(args: argparse.Namespace, onnx_path: Path | None, device: str) -> list[dict]:
    """``follower_cost`` per embedder spec on MOT16-05, the fastest of ``--repeats`` runs each."""
    import cv2

    from reid_follow.mot import read_mot, xywh_to_xyxy
    from reid_follow.reid import build_embedder

    seq = Path(args.shared) / "data" / "MOT16-05-first48"
    if not seq.is_dir():
        logging.warning("follower section skipped: %s not found", seq)
        return []
    gt = read_mot(seq / "gt" / "gt.txt")
    keep = (gt.score == 1) & (gt.cls == 1) & (gt.visibility >= 0.3)
    numbers = np.unique(gt.frame)
    frames = [(cv2.imread(str(seq / "img1" / f"{f:06d}.jpg")), xywh_to_xyxy(gt.xywh[keep & (gt.frame == f)]))
              for f in numbers]
    fps = 14.0                                              # MOT16-05's frame rate (seqinfo.ini)
    rows = []
    for spec in [s for s in args.follower_embedders.split(",") if s]:
        if spec == "onnx":
            if onnx_path is None:
                continue
            spec = f"onnx:{onnx_path}"
        try:
            embedder = build_embedder(spec, device)
        except ValueError as e:                             # e.g. 'hist' once it is gone
            logging.warning("follower section: %s skipped: %s", spec, e)
            continue
        runs = [follower_cost(frames, embedder, fps) for _ in range(max(1, args.repeats))]
        rows.append({"embedder": spec, "sequence": seq.name, **min(runs, key=lambda r: r["ms_per_frame"])})
    return rows


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


def _plot_overhead(overhead: list[dict], follower: list[dict], path: Path) -> None:
    """Embed vs bare-model ms per crop count (one panel per model) and the follower's ms/frame split."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = sorted({r["model"] for r in overhead})
    fig, axes = plt.subplots(1, len(models) + 1, figsize=(4.2 * (len(models) + 1), 3.8), squeeze=False)
    for ax, model in zip(axes[0], models):
        rows = [r for r in overhead if r["model"] == model]
        x = np.arange(len(rows))
        ax.bar(x - 0.2, [r["model_ms"] for r in rows], 0.4, label="bare model")
        ax.bar(x + 0.2, [r["embed_ms"] for r in rows], 0.4, label="embed()")
        for xi, r in zip(x, rows):
            ax.annotate(f"{100 * r['overhead']:+.0f}%", (xi + 0.2, r["embed_ms"]), ha="center", va="bottom", fontsize=7)
        ax.set_xticks(x)
        ax.set_xticklabels([str(r["crops"]) for r in rows])
        ax.set_xlabel("crops per call")
        ax.set_ylabel("ms (median)")
        ax.set_title(f"{model} ({rows[0]['backend']})", fontsize=9)
        ax.legend(fontsize=7)
    ax = axes[0][-1]
    names = [r["embedder"].rsplit("/", 1)[-1] for r in follower]
    ax.bar(names, [r["rest_ms_per_frame"] for r in follower], label="rest of update")
    ax.bar(names, [r["embed_ms_per_frame"] for r in follower], bottom=[r["rest_ms_per_frame"] for r in follower],
           label="embedder")
    ax.set_ylabel("ms / frame")
    ax.set_title("TargetFollower.update on MOT16-05", fontsize=9)
    ax.tick_params(axis="x", labelsize=7)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    sections = [s for s in args.sections.split(",") if s]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise SystemExit(f"unknown --sections {unknown}; expected a subset of {SECTIONS}")
    shared_osnet = Path(args.shared) / OSNET
    onnx_path = Path(args.onnx) if args.onnx else shared_osnet if shared_osnet.is_file() else None
    args.onnx = str(onnx_path) if onnx_path else None
    batch_sizes = [1, 8] if args.quick else [int(b) for b in args.batch_sizes.split(",")]
    repeats = 1 if args.quick else args.repeats
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    gpu_batch_sizes = [1, 8] if args.quick else [int(b) for b in args.gpu_batch_sizes.split(",")]
    boxes = _boxes(max(batch_sizes + gpu_batch_sizes), rng)
    load_before = os.getloadavg()
    overhead = overhead_section(args, onnx_path, "cpu") if "overhead" in sections else []
    follower = follower_section(args, onnx_path, "cpu") if "follower" in sections else []
    results: list[dict] = []
    if "throughput" in sections:
        with tempfile.TemporaryDirectory() as tmp:
            results += _section("cpu", args, args.models, frame, boxes, batch_sizes, repeats, Path(tmp))
            if torch.cuda.is_available() and not args.no_gpu:
                results += _section("cuda", args, args.gpu_models, frame, boxes, gpu_batch_sizes, repeats, Path(tmp))
    report = {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                          "cpus": len(os.sched_getaffinity(0)), "torch_threads": torch.get_num_threads(),
                          "torch": torch.__version__, "load_average_1min": [load_before[0], os.getloadavg()[0]],
                          "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None},
              "sections": sections, "overhead": overhead, "follower": follower,
              "frame_size": list(frame.shape[:2]), "repeats": repeats, "results": results,
              "onnxruntime_vs_torch": _compare_backends(results)}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    plots = []
    if results:
        _plot(results, out.with_suffix(".png"))
        plots.append(out.with_suffix(".png"))
    if overhead or follower:
        plots.append(out.with_name(out.stem + "-overhead.png"))
        _plot_overhead(overhead, follower, plots[-1])
    for r in overhead:
        print(f"overhead {r['model']:>20} {r['backend']:>11} {r['crops']} crops: embed {r['embed_ms']:7.2f} ms, "
              f"model {r['model_ms']:7.2f} ms, prep {r['prep_ms']:6.2f} ms: overhead {100 * r['overhead']:+.1f} % "
              f"(CPU time: {r['embed_cpu_ms']:.2f} vs {r['model_cpu_ms']:.2f} ms, {100 * r['overhead_cpu']:+.1f} %)")
    for r in follower:
        print(f"follower {r['embedder'][-30:]:>30}: {r['ms_per_frame']:6.2f} ms/frame = embedder "
              f"{r['embed_ms_per_frame']:6.2f} + rest {r['rest_ms_per_frame']:6.2f} ({r['crops_per_frame']:.2f} crops/frame)")
    for r in results:
        print(f"{r['model']:>22} {r['backend']:>11} {r['device']:>4} batch {r['batch']:>2}: "
              f"{r['crops_per_s']:8.1f} crops/s, {r['ms_per_batch']:8.1f} ms/batch, "
              f"batched x{r['batched_speedup']:.2f} vs per-crop loop")
    print(f"wrote {out}" + "".join(f" and {p}" for p in plots))
    return 0
