"""``reid-follow bench track``: the tracker's identity consistency at low frame rates, as JSON + PNG.

Gt boxes of each sequence, degraded as a detector and a slow pipeline degrade them (every k-th
frame, 20 % dropped, 5 % jitter, seeded; :mod:`reid_follow.tracking.score`), tracked by

- ``before``: the association this project had before (plain IoU, SORT's velocity noise 1/160,
  appearance veto 0.35), reproduced by parameters of today's tracker;
- ``after``: the defaults;

motion only and with an embedder. Id switches and IDF1 are means over seeds. A ``weak`` block
shows the second (ByteTrack) stage: 30 % of the kept boxes get score 0.3, fed with their scores
(``two_stage``) or thrown away as a single-threshold tracker would (``high_only``).
``ms_per_frame`` is the tracker's time, ``speed_vs_before`` its ratio in the same process.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from reid_follow.reid import build_embedder
from reid_follow.tracking.config import TrackerConfig
from reid_follow.tracking.score import Stress, identity_score, stressed_frames, track_gt
from reid_follow.tracking.tracker import MultiTracker
from reid_follow.video import FrameSource

BEFORE = {"iou_buffer": 0.0, "velocity_noise": 1 / 160, "appearance_veto": 0.35}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="../shared/data", help="folder with the sequences")
    p.add_argument("--sequences", default="MOT16-05-first48,PathTrack-UU-test")
    p.add_argument("--embedders", default="none,default", help="comma-separated embedder specs")
    p.add_argument("--every", default="1,2,3,4", help="frame subsampling factors")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", default="bench/results/track.json")


def _run(seq: Path, every: int, cfg: dict, embedder, seeds: int) -> dict:
    switches, idf1, seconds, frames = [], [], 0.0, 0
    for seed in range(seeds):
        t0 = time.perf_counter()
        matches, gt_boxes = track_gt(seq, Stress(every=every, seed=seed), TrackerConfig(**cfg), embedder)
        seconds += time.perf_counter() - t0
        frames += len(range(0, FrameSource(seq).count, every))
        s = identity_score(matches, gt_boxes)
        switches.append(s.id_switches)
        idf1.append(s.idf1)
    return {"id_switches": float(np.mean(switches)), "idf1": round(float(np.mean(idf1)), 4),
            "ms_per_frame": round(1000 * seconds / frames, 2)}


def _weak(seq: Path, every: int, seeds: int) -> dict:
    """Id consistency with 30 % weak (score 0.3) boxes: two-stage vs dropping them (motion only)."""
    out = {}
    for mode in ("two_stage", "high_only"):
        switches, idf1 = [], []
        for seed in range(seeds):
            tracker, matches, gt_boxes = MultiTracker(TrackerConfig()), [], 0
            for f, (image, boxes, scores, ids, count) in enumerate(
                    stressed_frames(seq, Stress(every=every, weak=0.3, seed=seed))):
                gt_boxes += count
                if mode == "high_only":
                    keep = scores >= tracker.cfg.high_score
                    boxes, scores, ids = boxes[keep], scores[keep], ids[keep]
                tracks = tracker.update(boxes, image, scores=scores)
                matches += [(f, int(ids[t.detection]), t.track_id) for t in tracks if t.detection >= 0]
            s = identity_score(matches, gt_boxes)
            switches.append(s.id_switches)
            idf1.append(s.idf1)
        out[mode] = {"id_switches": float(np.mean(switches)), "idf1": round(float(np.mean(idf1)), 4)}
    return out


def _plot(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seqs = list(results["runs"])
    fig, axes = plt.subplots(2, len(seqs), figsize=(5 * len(seqs), 7), squeeze=False)
    for col, seq in enumerate(seqs):
        for (emb, variant), rows in _series(results["runs"][seq]).items():
            every = [r[0] for r in rows]
            style = "-" if variant == "after" else "--"
            label = f"{variant}, {emb}"
            axes[0, col].plot(every, [r[1]["id_switches"] for r in rows], style, marker="o", label=label)
            axes[1, col].plot(every, [r[1]["idf1"] for r in rows], style, marker="o", label=label)
        axes[0, col].set_title(seq)
        axes[0, col].set_ylabel("id switches")
        axes[1, col].set_ylabel("IDF1")
        axes[1, col].set_xlabel("1 / frame-rate factor (every k-th frame)")
        axes[0, col].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _series(runs: dict) -> dict:
    series: dict = {}
    for key, r in runs.items():
        emb, every = key.split("@")
        for variant in ("before", "after"):
            series.setdefault((emb, variant), []).append((int(every), r[variant]))
    return {k: sorted(v) for k, v in series.items()}


def main(args: argparse.Namespace) -> int:
    data = Path(args.data)
    everys = [int(e) for e in args.every.split(",")]
    results: dict = {"stress": {"drop": 0.2, "jitter": 0.05, "seeds": args.seeds}, "before": BEFORE,
                     "runs": {}, "weak": {}}
    for name in args.sequences.split(","):
        seq = data / name
        runs = results["runs"].setdefault(name, {})
        for spec in args.embedders.split(","):
            embedder = build_embedder(spec)
            for every in everys:
                before = _run(seq, every, BEFORE, embedder, args.seeds)
                after = _run(seq, every, {}, embedder, args.seeds)
                after["speed_vs_before"] = round(before["ms_per_frame"] / max(after["ms_per_frame"], 1e-9), 2)
                runs[f"{spec}@{every}"] = {"before": before, "after": after}
                print(name, spec, f"1/{every}", "before", before, "after", after, flush=True)
        for every in (1, max(everys)):
            results["weak"][f"{name}@{every}"] = _weak(seq, every, args.seeds)
            print(name, "weak", f"1/{every}", results["weak"][f"{name}@{every}"], flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    _plot(results, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return 0
