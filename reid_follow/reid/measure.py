"""How well an embedder re-identifies people of the development sequences (rank-1, mAP, AUC).

Protocol: every ground-truth track of a MOTChallenge sequence is cut in time
(:class:`reid_follow.data.tracklets.MotTracklets`, ``split="halves"``, all ids used for test):
query = boxes of the first half, gallery = boxes of the second half, cosine distance, CMC/mAP of
:func:`reid_follow.eval.metrics.cmc_map`. AUC is the probability that a same-id (query, gallery)
pair is more similar than a different-id pair — a threshold-free view of the same features.

Run ``python -m reid_follow.reid.measure SEQ_DIR... --spec default --spec onnx:...`` for a JSON table.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from scipy.stats import rankdata
from tqdm import tqdm

from ..data.tracklets import MotTracklets, TrackletConfig
from ..eval.metrics import cmc_map
from . import Embedder, build_embedder


def embed_samples(embedder: Embedder, samples: list, progress: bool = False) -> np.ndarray:
    """(N, dim) features of boxed samples, each frame read and embedded once for all its boxes."""
    by_path: dict[Path, list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        by_path[s.path].append(i)
    feats = np.zeros((len(samples), embedder.dim), dtype=np.float32)
    for path, idx in tqdm(sorted(by_path.items()), desc="embedding frames", disable=not progress):
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if frame is None:
            raise FileNotFoundError(f"cannot read image {path}")
        feats[idx] = embedder.embed(frame, np.array([samples[i].box for i in idx], dtype=np.float32))
    return feats


def pair_auc(sim: np.ndarray, same: np.ndarray) -> float:
    """P(similarity of a same-id pair > that of a different-id pair), ties counting half."""
    pos, neg = int(same.sum()), int((~same).sum())
    if pos == 0 or neg == 0:
        raise ValueError(f"AUC needs same-id and different-id pairs, got {pos} and {neg}")
    ranks = rankdata(sim.ravel())
    return float((ranks[same.ravel()].sum() - pos * (pos + 1) / 2) / (pos * neg))


def measure(embedder: Embedder, sequence: str | Path, config: TrackletConfig | None = None,
            progress: bool = False) -> dict[str, float | int]:
    """rank-1/5, mAP, mean same/diff-id cosine and AUC of ``embedder`` on one sequence's tracks."""
    config = config or TrackletConfig(test_fraction=1.0, split="halves")
    data = MotTracklets(sequence, config)
    q = embed_samples(embedder, data.query, progress)
    g = embed_samples(embedder, data.gallery, progress)
    q_pids = np.array([s.pid for s in data.query])
    g_pids = np.array([s.pid for s in data.gallery])
    sim = q @ g.T
    cmc, mean_ap = cmc_map(1.0 - sim, q_pids, g_pids, np.zeros_like(q_pids), np.ones_like(g_pids), max_rank=5)
    same = q_pids[:, None] == g_pids[None, :]
    return {"rank1": float(cmc[0]), "rank5": float(cmc[4]), "mAP": float(mean_ap),
            "same_id_cos": float(sim[same].mean()), "diff_id_cos": float(sim[~same].mean()),
            "auc": pair_auc(sim, same), "query": len(q_pids), "gallery": len(g_pids),
            "ids": int(len(np.unique(q_pids)))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sequences", nargs="+", type=Path, help="MOTChallenge sequence folders (img1/ + gt/gt.txt)")
    p.add_argument("--spec", action="append", required=True, help="embedder spec (repeatable)")
    p.add_argument("--device", default="auto")
    p.add_argument("--min-visibility", type=float, default=0.3)
    args = p.parse_args(argv)
    config = TrackletConfig(test_fraction=1.0, split="halves", min_visibility=args.min_visibility)
    results = {spec: {seq.name: measure(build_embedder(spec, args.device), seq, config, progress=True)
                      for seq in args.sequences} for spec in args.spec}
    json.dump(results, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
