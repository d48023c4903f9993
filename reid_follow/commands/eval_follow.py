"""``reid-follow eval-follow``: following quality on sequences with ground truth, against motion only.

For each sequence, the longest tracks with occlusions become targets (see
reid_follow.follow.evaluate); each is followed with every ``--embedder`` and with the motion-only
follower on the same detections. Writes ``results.json``, ``table.md`` and a timeline PNG per run.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

SUMMARY_KEYS = ("success", "wrong_person", "absent_correct", "latency_mean")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="../shared/data", help="folder holding the MOTChallenge sequences")
    p.add_argument("--sequences", nargs="+", default=["MOT16-05-first48", "PathTrack-UU-test"],
                   help="sequence folders (with gt/gt.txt) under --data")
    p.add_argument("--targets", type=int, default=3, help="target persons per sequence")
    p.add_argument("--embedder", action="append", default=None,
                   help="embedder spec to evaluate (repeatable; default: 'default'); the motion-only "
                        "follower always runs as the baseline")
    p.add_argument("--sources", nargs="+", default=["gt", "det"], choices=["gt", "det"],
                   help="detections: jittered gt boxes, and the sequence's det.txt where it has one")
    p.add_argument("--min-visibility", type=float, default=0.3,
                   help="gt boxes less visible than this count as absent (their detections are removed)")
    p.add_argument("--hide-fraction", type=float, default=0.2,
                   help="the target is also hidden for this fraction of the frames after enrollment")
    p.add_argument("--det-min-score", type=float, default=-1e9,
                   help="det.txt rows scoring below this are dropped (default: keep all; DPM scores are "
                        "uncalibrated and often negative for real people)")
    p.add_argument("--device", default="cpu", help="embedder device")
    p.add_argument("--out", default="out/eval-follow", help="output folder")


def main(args: argparse.Namespace) -> int:
    from reid_follow.follow.config import FollowConfig
    from reid_follow.follow.evaluate import (TargetNotDetected, build_scenario, choose_targets, plot_timeline,
                                             score_run, subset)
    from reid_follow.mot import read_mot
    from reid_follow.follow.follower import TargetFollower
    from reid_follow.follow.offline import follow_frames, mot_detections
    from reid_follow.reid import build_embedder
    from reid_follow.video import FrameSource

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = args.embedder or ["default"]
    embedders = {Path(spec).name if spec.startswith("onnx:") else spec: build_embedder(spec, args.device)
                 for spec in specs}
    embedders["motion-only"] = None
    results = []
    for seq in args.sequences:
        seq_dir = Path(args.data) / seq
        if not (seq_dir / "gt" / "gt.txt").is_file():
            raise FileNotFoundError(f"no gt/gt.txt in {seq_dir}")
        source = FrameSource(seq_dir)
        n_frames = len(source)
        gt = read_mot(seq_dir / "gt" / "gt.txt")
        for det_source in args.sources:
            if det_source == "det" and not (seq_dir / "det" / "det.txt").is_file():
                continue
            det_rows = None
            if det_source == "det":
                det_rows = read_mot(seq_dir / "det" / "det.txt")
                det_rows = subset(det_rows, det_rows.score >= args.det_min_score)
            for target in choose_targets(gt, n_frames, args.targets, args.min_visibility, detections=det_rows):
                try:
                    sc = build_scenario(seq_dir, target, det_source, n_frames, args.min_visibility,
                                        args.hide_fraction, min_score=args.det_min_score)
                except TargetNotDetected as e:
                    print(f"skipped: {e}")
                    continue
                runs = {}
                for label, embedder in embedders.items():
                    # gt boxes are a perfect detector's output: no duplicates, and NMS would drop
                    # the partly hidden people such a detector still reports.
                    cfg = FollowConfig(min_detection_score=args.det_min_score,
                                       nms_iou=1.0 if det_source == "gt" else FollowConfig().nms_iou)
                    follower = TargetFollower(cfg, embedder)
                    outputs = follow_frames(follower, source, mot_detections(sc.detections), sc.enroll_frame,
                                            sc.enroll_box, total=n_frames, fps=source.fps)
                    metrics = score_run(sc, outputs)
                    runs[label] = (metrics, outputs)
                    results.append({"embedder": label, "sequence": seq, "target": target, "source": det_source,
                                    **{k: v for k, v in metrics.items() if k != "outcome"}})
                    print(f"{sc.name:40s} {label:30s} " +
                          " ".join(f"{k}={metrics[k]:.3f}" for k in SUMMARY_KEYS))
                plot_timeline(out_dir / f"timeline-{sc.name}.png", sc, runs)
    table = summary_table(results)
    (out_dir / "results.json").write_text(json.dumps({"runs": results, "summary": table}, indent=1))
    (out_dir / "table.md").write_text(markdown(table))
    print(markdown(table))
    print(f"wrote {out_dir}/results.json, table.md and {len(list(out_dir.glob('timeline-*.png')))} timelines")
    return 0


def summary_table(results: list[dict]) -> list[dict]:
    """Per (embedder, sequence, source): success, wrong-person (over all reported frames), absent
    correctness, all frame-weighted over the runs; mean re-acquisition latency."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in results:
        groups.setdefault((r["embedder"], r["sequence"], r["source"]), []).append(r)
    rows = []
    for (embedder, seq, source), rs in groups.items():
        vis = sum(r["visible_frames"] for r in rs)
        absent = sum(r["absent_frames"] for r in rs)
        reported_wrong = sum(r["wrong_frames"] for r in rs)
        lat = [r["latency_mean"] for r in rs if not math.isnan(r["latency_mean"])]
        rows.append(dict(
            embedder=embedder, sequence=seq, source=source, runs=len(rs),
            success=sum(r["success"] * r["visible_frames"] for r in rs) / max(vis, 1),
            detector_recall=sum(r["detector_recall"] * r["visible_frames"] for r in rs) / max(vis, 1),
            wrong_person=reported_wrong / max(sum(r["reported_frames"] for r in rs), 1), wrong_frames=reported_wrong,
            absent_correct=sum(r["absent_correct"] * r["absent_frames"] for r in rs
                               if r["absent_frames"]) / max(absent, 1),
            reacquired=f"{sum(r['reacquired'] for r in rs)}/{sum(r['reappearances'] for r in rs)}",
            latency_mean=float(np.mean(lat)) if lat else float("nan")))
    return rows


def markdown(rows: list[dict]) -> str:
    head = "| sequence | detections | follower | runs | success (detector bound) | wrong-person | " \
           "absent correct | re-acquired | latency (frames) |\n|---|---|---|---:|---:|---:|---:|---:|---:|\n"
    return head + "".join(
        f"| {r['sequence']} | {r['source']} | {r['embedder']} | {r['runs']} | {r['success']:.3f} "
        f"({r['detector_recall']:.2f}) | "
        f"{r['wrong_person']:.3f} ({r['wrong_frames']} fr) | {r['absent_correct']:.3f} | {r['reacquired']} | "
        f"{r['latency_mean']:.1f} |\n" for r in sorted(rows, key=lambda r: (r["sequence"], r["source"], r["embedder"])))
