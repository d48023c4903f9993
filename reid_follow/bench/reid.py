"""``reid-follow bench reid``: every embedder on the standard cross-camera ReID protocols, side by side.

Protocols (data and their rules: ../shared/data/README.md, section 5):

* **VIPeR**: 10 seeded splits of the 632 persons into 316 train / 316 test; probe = view 1 of the
  test persons, gallery = view 2; single-shot CMC (rank 1/5/10/20) and mAP.
* **PRID2011**: 10 seeded splits of the 200 persons seen by both cameras into 100 train / 100
  test; probe = camera A of the test persons, gallery = camera B of those 100 plus the 549 persons
  only camera B saw.
* **tracklets**: the MOT/PathTrack dev sequences of :mod:`reid_follow.reid.measure` (every gt track
  cut in time: first half query, second half gallery).

Per embedder and split, four ways to compare crops:

* ``features``: cosine distance of the embedder's rows, nothing learned;
* ``xqda``: a metric fitted on that split's training persons (XQDA, Liao et al. CVPR 2015).
  Measured only: research-only data, never shipped;
* ``online`` / ``online+xqda``: what a follower can learn at run time: a class-balanced ridge
  classifier (dual form, as the follower's classifier had) fitted per probe with the probe and its
  mirror image as positives and the training persons' crops (other people seen) as negatives,
  gallery ranked by its score; on the raw features and on the XQDA-projected ones.

The ``cost`` section times ``embed`` of the weight-free descriptors on one CPU core (the process is
pinned to core 0 and OpenCV to one thread for it) on 8 ground-truth boxes of a MOT16-05 frame.
Output: ``bench/results/reid.json`` and one CMC plot per protocol (``reid-viper.png``, ``reid-prid2011.png``).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.linalg import eigh
from tqdm import tqdm

from reid_follow.eval.metrics import cmc_map
from reid_follow.eval.plots import plot_cmc
from reid_follow.reid import Embedder, build_embedder

OSNET = "models/osnet_x0_25_msmt17.onnx"
RANKS = (1, 5, 10, 20)
XQDA_REG = 1e-3         # added to the intra-person covariance's diagonal (rows are unit-norm)
RIDGE_REG = 0.1         # ridge penalty of the online classifier, on class-balanced sample weights
METHODS = ("features", "xqda", "online", "online+xqda")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shared", default="../shared", help="folder with data/reid/{VIPeR,PRID2011} and " + OSNET)
    p.add_argument("--embedders", default="default,hist,onnx",
                   help="comma-separated embedder specs; 'onnx' stands for " + OSNET + " under --shared")
    p.add_argument("--protocols", default="viper,prid2011,tracklets")
    p.add_argument("--splits", type=int, default=10)
    p.add_argument("--sequences", default="MOT16-05-first48,PathTrack-UU-test", help="dev sequences of 'tracklets'")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="bench/results/reid.json")


@dataclass
class CrossCamera:
    """A two-camera ReID dataset: every crop's features (and its mirror's), person and camera."""

    name: str
    feats: np.ndarray
    mirrored: np.ndarray
    pids: np.ndarray
    cams: np.ndarray


def read_labels(root: Path) -> tuple[list[Path], np.ndarray, np.ndarray]:
    """Image paths, person ids and camera ids of a ``labels.csv`` (columns file, pid, camid)."""
    with open(root / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{root / 'labels.csv'} has no rows")
    return ([root / r["file"] for r in rows], np.array([int(r["pid"]) for r in rows]),
            np.array([int(r["camid"]) for r in rows]))


def embed_images(embedder: Embedder, paths: list[Path], progress: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Features of whole images (each image is one person crop) and of their mirror images."""
    feats = np.zeros((len(paths), embedder.dim), np.float32)
    mirrored = np.zeros_like(feats)
    for i, path in enumerate(tqdm(paths, desc=progress, disable=not progress, leave=False)):
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f"cannot read image {path}")
        box = np.array([[0, 0, img.shape[1], img.shape[0]]], np.float32)
        feats[i] = embedder.embed(img, box)[0]
        mirrored[i] = embedder.embed(np.ascontiguousarray(img[:, ::-1]), box)[0]
    return feats, mirrored


def load_dataset(embedder: Embedder, root: Path, progress: str = "") -> CrossCamera:
    paths, pids, cams = read_labels(root)
    feats, mirrored = embed_images(embedder, paths, progress)
    return CrossCamera(root.name, feats, mirrored, pids, cams)


def split_indices(data: CrossCamera, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(probe, gallery, train) row indices of one seeded split of the dataset's standard protocol."""
    rng = np.random.default_rng(seed)
    shared = np.intersect1d(data.pids[data.cams == 1], data.pids[data.cams == 2])
    test = rng.permutation(shared)[:len(shared) // 2]
    train = np.setdiff1d(shared, test)
    probe = np.flatnonzero(np.isin(data.pids, test) & (data.cams == 1))
    # gallery: camera 2 of the test persons plus every person only camera 2 saw (PRID2011's 549)
    only_cam2 = ~np.isin(data.pids, data.pids[data.cams == 1])
    gallery = np.flatnonzero((np.isin(data.pids, test) | only_cam2) & (data.cams == 2))
    return probe, gallery, np.flatnonzero(np.isin(data.pids, train))


def fit_xqda(x: np.ndarray, pids: np.ndarray, cams: np.ndarray, reg: float = XQDA_REG) -> np.ndarray:
    """(D, r) projection ``P`` such that ``|P^T (x - z)|^2`` is the XQDA distance, fitted on camera-1 x
    camera-2 pairs: intra-person and extra-person difference covariances, the subspace where the
    extra-person variance exceeds the intra-person one (generalised eigenvectors with value > 1),
    and in it the metric ``inv(S_I) - inv(S_E)`` factored as ``L L^T``.

    Solved in the span of the (centred) training rows: orthogonal to it both covariances are
    ``reg * I`` and 0, so no direction there passes the > 1 test, and a 3750-d descriptor with 632
    training crops costs a 632-d problem."""
    lam, u = np.linalg.eigh(x @ x.T)
    keep = lam > lam.max() * 1e-10
    basis = x.T @ (u[:, keep] / np.sqrt(lam[keep]))                       # orthonormal columns spanning the rows
    x = x @ basis
    xa, xb = x[cams == 1], x[cams == 2]
    ia, ib = np.nonzero(pids[cams == 1][:, None] == pids[cams == 2][None, :])
    diff = xa[ia] - xb[ib]
    intra = diff.T @ diff
    sa, sb = xa.sum(0), xb.sum(0)
    every = len(xb) * xa.T @ xa + len(xa) * xb.T @ xb - np.outer(sa, sb) - np.outer(sb, sa)
    s_e = (every - intra) / (len(xa) * len(xb) - len(diff))
    s_i = intra / len(diff) + reg * np.eye(x.shape[1])
    values, vectors = eigh(s_e, s_i)
    w = vectors[:, values > 1.0][:, ::-1]
    if w.shape[1] == 0:
        raise ValueError("XQDA found no direction where different people vary more than the same person")
    metric = np.linalg.inv(w.T @ s_i @ w) - np.linalg.inv(w.T @ s_e @ w)
    lam, u = np.linalg.eigh((metric + metric.T) / 2)
    return basis @ w @ (u * np.sqrt(np.clip(lam, 0.0, None)))


def ridge_scores(positives: np.ndarray, negatives: np.ndarray, queries: np.ndarray,
                 reg: float = RIDGE_REG) -> np.ndarray:
    """(P, Q) scores of ``queries`` under one class-balanced ridge regression per positives set: 1
    for its ``k`` positives (``positives`` is (P, k, D)), 0 for the shared ``negatives``, a constant
    feature carrying the bias (the follower classifier's formulation). Solved in the dual with linear
    kernels; the negatives' block is the same for every set, so it is factored once and each set
    costs a k x k Schur complement."""
    n_sets, k = positives.shape[:2]
    n = k + len(negatives)
    sp, sn = np.sqrt(0.5 / k * n), np.sqrt(0.5 / len(negatives) * n)      # class-balanced sample weights
    c_inv = np.linalg.inv(sn * sn * (negatives @ negatives.T + 1.0) + reg * np.eye(len(negatives)))
    b = sp * sn * (positives @ negatives.T + 1.0)                          # (P, k, N)
    a = sp * sp * (positives @ positives.transpose(0, 2, 1) + 1.0) + reg * np.eye(k)
    cb = b @ c_inv                                                         # (P, k, N) = B C^-1
    alpha_p = np.linalg.solve(a - cb @ b.transpose(0, 2, 1), np.full((n_sets, k, 1), sp))[..., 0]
    alpha_n = -np.einsum("pk,pkn->pn", alpha_p, cb)
    return sp * np.einsum("qd,pkd,pk->pq", queries, positives, alpha_p) + sp * alpha_p.sum(1)[:, None] \
        + sn * (alpha_n @ (negatives @ queries.T + 1.0))


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def evaluate_split(data: CrossCamera, seed: int, methods: tuple[str, ...] = METHODS) -> dict[str, dict]:
    """CMC at RANKS and mAP of each method on one split (see the module docstring)."""
    probe, gallery, train = split_indices(data, seed)
    f, m = data.feats.astype(np.float64), data.mirrored.astype(np.float64)
    spaces = {"": (f, m)}
    if any("xqda" in k for k in methods):
        mu = f[train].mean(0)
        proj = fit_xqda(f[train] - mu, data.pids[train], data.cams[train])
        spaces["xqda"] = ((f - mu) @ proj, (m - mu) @ proj)
    out = {}
    for method in methods:
        x, xm = spaces["xqda" if "xqda" in method else ""]
        if method == "features":
            dist = 1.0 - _unit(x[probe]) @ _unit(x[gallery]).T
        elif method == "xqda":
            p, g = x[probe], x[gallery]
            dist = (p ** 2).sum(1)[:, None] + (g ** 2).sum(1)[None, :] - 2 * p @ g.T
        else:
            dist = -ridge_scores(np.stack([x[probe], xm[probe]], axis=1), x[train], x[gallery])
        cmc, mean_ap = cmc_map(dist, data.pids[probe], data.pids[gallery], np.ones(len(probe)),
                               np.full(len(gallery), 2), max_rank=max(RANKS))
        out[method] = {**{f"rank{k}": float(cmc[k - 1]) for k in RANKS}, "mAP": float(mean_ap),
                       "cmc": [float(v) for v in cmc]}
    return out


def evaluate_protocol(data: CrossCamera, splits: int, methods: tuple[str, ...] = METHODS) -> dict[str, dict]:
    """Mean (and std of rank-1) over ``splits`` seeded splits, per method."""
    runs = [evaluate_split(data, seed, methods) for seed in range(splits)]
    out = {}
    for method in methods:
        rows = [r[method] for r in runs]
        out[method] = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "cmc"}
        out[method]["rank1_std"] = float(np.std([r["rank1"] for r in rows]))
        out[method]["cmc"] = [float(v) for v in np.mean([r["cmc"] for r in rows], axis=0)]
    return out


def time_per_crop(embedder: Embedder, frame: np.ndarray, boxes: np.ndarray, repeats: int = 30) -> dict[str, float]:
    """Median wall and process-CPU ms per crop of ``embed(frame, boxes)`` on CPU core 0, one OpenCV thread."""
    affinity = os.sched_getaffinity(0)
    threads = cv2.getNumThreads()
    os.sched_setaffinity(0, {min(affinity)})
    cv2.setNumThreads(1)
    try:
        embedder.embed(frame, boxes)
        wall, cpu = [], []
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            embedder.embed(frame, boxes)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    finally:
        os.sched_setaffinity(0, affinity)
        cv2.setNumThreads(threads)
    return {"ms_per_crop": 1000 * float(np.median(wall)) / len(boxes),
            "cpu_ms_per_crop": 1000 * float(np.median(cpu)) / len(boxes), "crops_per_call": len(boxes),
            "core": min(affinity)}


def _specs(args: argparse.Namespace) -> list[str]:
    osnet = Path(args.shared) / OSNET
    specs = []
    for s in (s for s in args.embedders.split(",") if s):
        if s == "onnx":
            if osnet.exists():
                specs.append(f"onnx:{osnet}")
        else:
            specs.append(s)
    return specs


def _label(spec: str) -> str:
    return Path(spec.partition(":")[2]).stem if spec.startswith(("onnx:", "torch:")) else spec


def main(args: argparse.Namespace) -> int:
    from reid_follow.data.tracklets import MotTracklets, TrackletConfig
    from reid_follow.reid.measure import measure

    shared = Path(args.shared)
    protocols = [p for p in args.protocols.split(",") if p]
    specs = _specs(args)
    result: dict = {"splits": args.splits, "embedders": [_label(s) for s in specs], "protocols": {}, "cost": {}}
    roots = {"viper": shared / "data/reid/VIPeR", "prid2011": shared / "data/reid/PRID2011"}
    seq_frame = shared / "data/MOT16-05-first48"
    for spec in tqdm(specs, desc="embedders"):
        embedder = build_embedder(spec, args.device)
        label = _label(spec)
        for proto in protocols:
            block = result["protocols"].setdefault(proto, {})
            if proto in roots:
                data = load_dataset(embedder, roots[proto], progress=f"{label} {proto}")
                block[label] = evaluate_protocol(data, args.splits)
            elif proto == "tracklets":
                block[label] = {name: measure(embedder, shared / "data" / name)
                                for name in args.sequences.split(",") if name}
            else:
                raise ValueError(f"unknown protocol {proto!r}; expected viper, prid2011 or tracklets")
        if spec in ("default", "hist") and seq_frame.exists():
            data = MotTracklets(seq_frame, TrackletConfig(test_fraction=1.0, split="halves"))
            samples = data.query + data.gallery
            busiest = max({s.path for s in samples}, key=lambda p: sum(s.path == p for s in samples))
            boxes = np.array([s.box for s in samples if s.path == busiest], np.float32)
            frame = cv2.imread(str(busiest), cv2.IMREAD_COLOR)
            result["cost"][label] = time_per_crop(embedder, frame, boxes)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    for proto, block in result["protocols"].items():
        if proto in roots:
            curves = {f"{label} {m}": np.array(r[m]["cmc"]) for label, r in block.items()
                      for m in ("features", "online+xqda")}
            plot_cmc(curves, out.with_name(f"reid-{proto}.png"))
    print(json.dumps({p: {e: {m: round(v["rank1"], 3) for m, v in r.items()} if p in roots else r
                          for e, r in b.items()} for p, b in result["protocols"].items()}, indent=1))
    print(json.dumps(result["cost"], indent=1))
    return 0
