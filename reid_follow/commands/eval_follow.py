"""``reid-follow eval-follow``: the development benchmark of following (issue 10), harsh and broad.

Every sequence with person gt under --data (MOT17-mini's 4-8 frame clips are left out: too short
to follow anyone), every person its gt allows (or up to --targets) each, every stress condition,
every follower on the same inputs: each --embedder, the motion-only follower and "follow the
enrolled track id" of the project's own tracker (a stock tracker's behaviour). Every sequence is
run with its own det.txt where it has one and with each built-in detector (YOLOX-nano and HOG by
default), whose detections are computed once and cached as det files under --det-cache. See
reid_follow.follow.evaluate for the conditions and metrics.

Writes --out/results.json, --out/table.md, a summary PNG (macro success / wrong-person per
condition, score calibration) and timelines of the base condition; the full run also writes
bench/results/follow-eval.json.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
from pathlib import Path

import numpy as np

MOTION_ONLY = "motion-only"
TRACKER_PEER = "tracker-id"
# Two built-in detectors of different character: YOLOX-nano (high recall, few false boxes) and
# OpenCV's HOG at its defaults (the stack's no-files detector: low recall, people under 128 px
# missed, false boxes on posts and pairs of people), so that the follower is judged on noisy
# detections too, like the public detections of held-out footage.
DETECTORS = ("onnx:../shared/models/yolox_nano.onnx", "hog")
MIN_RECALL = 0.05   # a (sequence, detector) pair whose detections find fewer of its people is left out
                    # (HOG on the OTB clips: their people are under its 128 px window)
QUICK = dict(sequences=["MOT16-05-first48"], targets=2, conditions=["base", "fps/3", "enroll-miss"])
RESULTS = "bench/results/follow-eval.json"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from reid_follow.follow.evaluate import Condition

    p.add_argument("--data", default="../shared/data", help="folder holding the sequences (MOTChallenge layout)")
    p.add_argument("--sequences", nargs="+", default=None,
                   help="sequence folders under --data (default: every one with person gt and >= 30 frames)")
    p.add_argument("--targets", type=int, default=0,
                   help="most target persons per sequence (default 0: every person its gt allows, see "
                        "choose_targets; PathTrack has 16)")
    p.add_argument("--conditions", nargs="+", default=None, choices=[c.value for c in Condition],
                   help="stress conditions (default: all)")
    p.add_argument("--embedder", action="append", default=None,
                   help="embedder spec to evaluate (repeatable; default: 'default' and the OSNet ONNX in "
                        "../shared/models when present); motion-only and the tracker peer always run")
    p.add_argument("--detector", action="append", default=None,
                   help="built-in detector (hog | onnx:/path; repeatable), each one more detection source of "
                        f"every sequence, beside its det.txt (default: {' and '.join(DETECTORS)}; --quick: the "
                        "first)")
    p.add_argument("--det-cache", default="out/dets", help="folder of the detector's det files (written once)")
    p.add_argument("--config", default="", help="ROS parameter file whose follower.follow section is used "
                                                "(default: the built-in defaults)")
    p.add_argument("--min-visibility", type=float, default=0.3,
                   help="gt boxes less visible than this count as absent (their detections are removed)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random drops and jitter")
    p.add_argument("--quick", action="store_true",
                   help=f"a small subset for tests and fast iteration: {QUICK}, the default embedder only")
    p.add_argument("--timelines", action="store_true", help="also write a timeline PNG per base-condition run")
    p.add_argument("--device", default="cpu", help="embedder device")
    p.add_argument("--out", default="out/eval-follow", help="output folder")
    p.add_argument("--results", default=None,
                   help=f"JSON to write besides --out (default: {RESULTS} for a full run, none with --quick)")


def main(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from reid_follow.commands.follow_video import follower_config
    from reid_follow.follow.evaluate import (CachedEmbedder, Condition, build_scenario, calibration_samples,
                                             calibration_summary, choose_targets, discover_sequences,
                                             load_sequence, ms_per_frame, plot_summary, plot_timeline,
                                             run_follower, run_tracker_peer, score_run)
    from reid_follow.follow.follower import TargetFollower
    from reid_follow.reid import build_embedder
    from reid_follow.video import FrameSource

    started = datetime.datetime.now(datetime.timezone.utc)
    data = Path(args.data)
    if args.quick:
        args.sequences = args.sequences or QUICK["sequences"]
        args.targets = min(args.targets or QUICK["targets"], QUICK["targets"])
        args.conditions = args.conditions or QUICK["conditions"]
    conditions = [Condition(c) for c in (args.conditions or list(Condition))]
    args.detector = args.detector or list(DETECTORS[:1] if args.quick else DETECTORS)
    if args.sequences:
        seq_dirs, skipped = [data / s for s in args.sequences], []
    else:
        seq_dirs, skipped = discover_sequences(data)
    for line in skipped:
        print(f"left out: {line}")
    osnet = data.parent / "models" / "osnet_x0_25_msmt17.onnx"
    specs = args.embedder or (["default"] + ([f"onnx:{osnet}"] if osnet.is_file() and not args.quick else []))
    node_cfg = follower_config(args.config)
    embedders = {_label(s): CachedEmbedder(build_embedder(s, args.device, node_cfg.embedding)) for s in specs}
    base_cfg = node_cfg.follow
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    runs, notes = [], list(skipped)
    calibration = {label: {} for label in embedders}
    for seq_dir in seq_dirs:
        sources = [("det.txt", "")] if (seq_dir / "det" / "det.txt").is_file() else []
        sources += [("detector", spec) for spec in args.detector]
        images = list(FrameSource(seq_dir))
        for source, detector in sources:
            seq = load_sequence(seq_dir, source, detector, Path(args.det_cache), args.min_visibility)
            recall = seq.detector_recall()
            if recall < MIN_RECALL:
                notes.append(f"left out: {seq.name} [{seq.source}]: the detector finds {100 * recall:.0f} % of "
                             f"its people (< {100 * MIN_RECALL:.0f} %), nothing to follow")
                print(notes[-1])
                continue
            cfg_for = _config_for(base_cfg)
            targets = choose_targets(seq, args.targets or None)
            jobs = [(t, c) for t in targets for c in conditions]
            for target, condition in tqdm(jobs, desc=f"{seq.name} [{seq.source}]", unit="run"):
                sc = build_scenario(seq, target, condition, args.seed)
                if sc is None:
                    continue
                per_follower = {}
                for label, emb in [*embedders.items(), (MOTION_ONLY, None)]:
                    res = run_follower(sc, images, lambda e=emb: TargetFollower(cfg_for(), e), emb)
                    per_follower[label] = (res, emb)
                    if emb is not None:
                        for kind, v in calibration_samples(sc, res.outputs).items():
                            calibration[label].setdefault(kind, []).extend(v)
                default = next(iter(embedders.values()))
                per_follower[TRACKER_PEER] = (run_tracker_peer(sc, images, cfg_for(), default), default)
                timeline = {}
                for label, (res, emb) in per_follower.items():
                    m = score_run(sc, res.outputs)
                    timeline[label] = (m, res.outputs)
                    if res.enroll_error:
                        notes.append(f"{sc.name} {label}: enrollment failed: {res.enroll_error}")
                    runs.append(dict(follower=label, ms_per_frame=ms_per_frame(res, emb),
                                     enroll_failed=bool(res.enroll_error),
                                     **{k: v for k, v in m.items() if k != "outcome"}))
                if args.timelines and condition == Condition.BASE:
                    plot_timeline(out_dir / f"timeline-{sc.name}.png", sc, timeline)
        for emb in embedders.values():
            emb.forget()
        del images

    summary = summarise(runs, ("sequence", "source", "condition", "follower"))
    by_condition = summarise(runs, ("condition", "follower"), macro_over=("sequence", "source"))
    macro = summarise(runs, ("follower",), macro_over=("sequence", "source", "condition"))
    cal = {label: calibration_summary(samples) for label, samples in calibration.items() if samples}
    result = dict(meta=_meta(args, specs, conditions, started), macro=macro, by_condition=by_condition, summary=summary,
                  calibration=cal, notes=notes, runs=runs)
    plot_summary(out_dir / "summary.png", by_condition, calibration)
    text = markdown(macro, by_condition, summary)
    (out_dir / "table.md").write_text(text)
    (out_dir / "results.json").write_text(json.dumps(result, indent=1))
    results = args.results if args.results is not None else ("" if args.quick else RESULTS)
    if results:
        Path(results).parent.mkdir(parents=True, exist_ok=True)
        Path(results).write_text(json.dumps(result, indent=1))
        plot_summary(Path(results).with_suffix(".png"), by_condition, calibration)
    for line in notes:
        print(line)
    print(text)
    print(f"wrote {out_dir}/results.json, table.md, summary.png" + (f" and {results}" if results else ""))
    return 0


def _label(spec: str) -> str:
    return Path(spec.removeprefix("onnx:")).stem if spec.startswith("onnx:") else spec


def _config_for(base):
    """A fresh FollowConfig per run: a follower may keep and change what it is given."""
    import copy

    return lambda: copy.deepcopy(base)


def summarise(runs: list[dict], keys: tuple[str, ...], macro_over: tuple[str, ...] = ()) -> list[dict]:
    """Rows per ``keys``. Without ``macro_over``: frame-weighted over the group's runs (success over
    visible frames, wrong-person over reported frames, ...). With it: the plain mean over the groups
    of ``keys + macro_over`` (each sequence x condition counts once, however many frames it has)."""
    if macro_over:
        cells = summarise(runs, keys + macro_over)
        groups: dict[tuple, list[dict]] = {}
        for c in cells:
            groups.setdefault(tuple(c[k] for k in keys), []).append(c)
        rows = []
        for key, cs in groups.items():
            row = dict(zip(keys, key), cells=len(cs), runs=sum(c["runs"] for c in cs))
            for m in ("success", "detector_recall", "wrong_person", "absent_correct", "latency_mean", "ms_per_frame"):
                vals = [c[m] for c in cs if c[m] is not None]
                row[m] = float(np.mean(vals)) if vals else None
            row["reacquired"] = sum(c["reacquired"] for c in cs)
            row["reappearances"] = sum(c["reappearances"] for c in cs)
            row["reacquirable"] = sum(c["reacquirable"] for c in cs)
            row["enroll_failed"] = sum(c["enroll_failed"] for c in cs)
            row["worst_wrong_person"] = max((c["wrong_person"] for c in cs if c["wrong_person"] is not None),
                                            default=None)
            row["worst_absent_correct"] = min((c["absent_correct"] for c in cs if c["absent_correct"] is not None),
                                              default=None)
            rows.append(row)
        return rows
    groups = {}
    for r in runs:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    rows = []
    for key, rs in groups.items():
        vis = sum(r["visible_frames"] for r in rs)
        full = [r for r in rs if r["full_gt"]]
        absent = sum(r["absent_frames"] for r in full)
        lat = [(r["latency_mean"], r["reacquired"]) for r in rs if r["latency_mean"] is not None]

        def weighted(m: str) -> float | None:
            return sum((r[m] or 0.0) * r["visible_frames"] for r in rs) / vis if vis else None
        rows.append(dict(
            zip(keys, key), runs=len(rs), success=weighted("success"), detector_recall=weighted("detector_recall"),
            wrong_person=(sum(r["wrong_frames"] for r in full) / max(sum(r["reported_frames"] for r in full), 1)
                          if full else None),
            absent_correct=(sum(r["absent_correct"] * r["absent_frames"] for r in full if r["absent_frames"])
                            / absent if absent else None),
            reacquired=sum(r["reacquired"] for r in rs), reappearances=sum(r["reappearances"] for r in rs),
            reacquirable=sum(r["reacquirable"] for r in rs),
            latency_mean=(sum(a * n for a, n in lat) / sum(n for _, n in lat)) if lat else None,
            ms_per_frame=float(np.mean([r["ms_per_frame"] for r in rs])),
            enroll_failed=sum(r["enroll_failed"] for r in rs)))
    return rows


def _f(v: float | None, fmt: str = ".3f") -> str:
    return "n/a" if v is None else format(v, fmt)


def _cell(r: dict) -> str:
    """success / wrong-person / re-acquired of one follower in a pivot table."""
    wrong = "n/a" if r["wrong_person"] is None else f"{100 * r['wrong_person']:.1f} %"
    return f"{r['success']:.2f} / {wrong} / {r['reacquired']}/{r['reappearances']}" if r["success"] is not None else "n/a"


def markdown(macro: list[dict], by_condition: list[dict], summary: list[dict]) -> str:
    """Macro per follower; then per condition and per sequence x detections x condition as pivots
    with one column per follower (success / wrong-person / re-acquired)."""
    followers = [r["follower"] for r in macro]
    out = ["### Macro average per follower (each sequence x detections x condition counts once)\n",
           "| follower | success (detection bound) | wrong-person (worst cell) | absent correct (worst cell) | "
           "re-acquired (detected at all) | latency (frames) | ms/frame | enrollment failed |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in macro:
        out.append(f"| {r['follower']} | {_f(r['success'])} ({_f(r['detector_recall'], '.2f')}) | "
                   f"{_f(r['wrong_person'])} ({_f(r['worst_wrong_person'], '.2f')}) | {_f(r['absent_correct'])} "
                   f"({_f(r['worst_absent_correct'], '.2f')}) | {r['reacquired']}/{r['reappearances']} "
                   f"({r['reacquirable']}) | "
                   f"{_f(r['latency_mean'], '.1f')} | {_f(r['ms_per_frame'], '.1f')} | "
                   f"{r['enroll_failed']}/{r['runs']} |")
    for title, rows, keys in (("Per condition (macro over sequences)", by_condition, ("condition",)),
                              ("Per sequence x detections x condition (frame-weighted over the targets)",
                               summary, ("sequence", "source", "condition"))):
        cells: dict[tuple, dict[str, dict]] = {}
        for r in rows:
            cells.setdefault(tuple(r[k] for k in keys), {})[r["follower"]] = r
        out += ["", f"### {title}: success / wrong-person / re-acquired\n",
                "| " + " | ".join(keys) + " | detection bound | " + " | ".join(followers) + " |",
                "|" + "---|" * len(keys) + "---:|" * (1 + len(followers))]
        for key in sorted(cells):
            c = cells[key]
            bound = next(iter(c.values()))["detector_recall"]
            out.append("| " + " | ".join(map(str, key)) + f" | {_f(bound, '.2f')} | " +
                       " | ".join(_cell(c[f]) if f in c else "" for f in followers) + " |")
    return "\n".join(out) + "\n"


def _meta(args: argparse.Namespace, specs: list[str], conditions: list, started: datetime.datetime) -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                check=False).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                    text=True, check=False).stdout.strip())
    except OSError:
        commit, dirty = "", False
    elapsed = datetime.datetime.now(datetime.timezone.utc) - started
    return dict(started=started.isoformat(timespec="seconds"), elapsed_s=round(elapsed.total_seconds()),
                commit=commit + ("+uncommitted" if dirty else ""), machine=platform.processor() or platform.machine(),
                cpu_count=os.cpu_count(), embedders=specs, detectors=args.detector,
                conditions=[c.value for c in conditions], targets=args.targets, seed=args.seed,
                config=args.config or "defaults", quick=args.quick)
