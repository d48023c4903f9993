"""Following quality on sequences with ground truth: scenarios, the follow run, metrics, timeline.

Ground truth (MOTChallenge gt.txt) annotates people *through* occlusions, so a scenario makes the
target really disappear: every pedestrian box with visibility below ``min_visibility`` is treated
as absent and its detection removed, and the target's detections are also removed for a
``hide`` window of frames. Detections come from the gt boxes (jittered, a few dropped) or from the
sequence's own det.txt, from which the detections of absent people are removed the same way.

Metrics per run (frame sets are over the whole sequence; before enrollment nothing is expected):
* success: visible-target frames whose output has IoU >= 0.5 with the target's gt box (bounded by
  detector_recall: visible-target frames where some detection has IoU >= 0.5 with it);
* wrong_person: output frames whose box has IoU < 0.5 with the target but >= 0.5 with another
  person, over all output frames;
* absent_correct: target-absent frames with no output (or an output still on the target);
* reacquisition latency: frames from each reappearance to the first success after it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reid_follow.follow.types import FollowOutput
from reid_follow.mot import MotRows, read_mot, xywh_to_xyxy
from reid_follow.tracking.geometry import iou_matrix

MATCH_IOU = 0.5


class TargetNotDetected(ValueError):
    """A chosen target has no detection to enroll on in the scenario's detections."""


def pedestrians(gt: MotRows) -> MotRows:
    """gt rows of real pedestrians (class 1, flag 1); files without a class column keep all rows."""
    m = ((gt.cls == 1) | (gt.cls == -1)) & (gt.score == 1)
    return subset(gt, m)


def subset(rows: MotRows, mask: np.ndarray) -> MotRows:
    return MotRows(rows.frame[mask], rows.ids[mask], rows.xywh[mask], rows.score[mask], rows.cls[mask],
                   rows.visibility[mask])


@dataclass
class Scenario:
    """One following run to evaluate: a target, when it is absent, and the detections to use."""

    sequence: str
    target: int
    source: str                    # 'gt' (jittered gt boxes) or 'det' (the sequence's det.txt)
    enroll_frame: int
    enroll_box: np.ndarray         # xyxy
    present: np.ndarray            # (frames,) bool: target visible (1-based frame i at i-1)
    hidden: tuple[int, int]        # [first, last] frames of the forced hiding window (0, -1 if none)
    detections: MotRows
    target_boxes: np.ndarray       # (frames, 4) xyxy, NaN where the target has no gt box
    others: list[np.ndarray] = field(default_factory=list)  # per frame: other pedestrians' boxes
    detectable: np.ndarray | None = None  # (frames,) bool: a detection matches the visible target

    @property
    def name(self) -> str:
        return f"{self.sequence}-id{self.target}-{self.source}"


def choose_targets(gt: MotRows, n_frames: int, count: int, min_visibility: float,
                   min_height: float = 60.0, detections: MotRows | None = None) -> list[int]:
    """Followable long tracks that go through occlusions: present >= 70 % of frames, median height
    >= ``min_height`` px (a robot follows someone near), most low-visibility frames first. With
    ``detections``, only people that the detector finds in at least half their visible frames."""
    ped = pedestrians(gt)
    chosen = []
    for tid in np.unique(ped.ids):
        r = ped.ids == tid
        vis = ped.visibility[r]
        visible = (vis >= min_visibility) | (vis < 0)
        if r.sum() < 0.7 * n_frames or visible.sum() < 0.3 * n_frames or np.median(ped.xywh[r, 3]) < min_height:
            continue
        if detections is not None:
            rows = np.flatnonzero(r)[visible]
            found = sum(_detected(detections, xywh_to_xyxy(ped.xywh[i])[0], ped.frame[i]) for i in rows)
            if found < 0.5 * len(rows):
                continue
        chosen.append((int((~visible).sum()), float(np.median(ped.xywh[r, 3])), int(tid)))
    chosen.sort(reverse=True)
    return [tid for *_, tid in chosen[:count]]


def build_scenario(seq_dir: Path, target: int, source: str, n_frames: int, min_visibility: float = 0.3,
                   hide_fraction: float = 0.2, jitter: float = 0.03, drop: float = 0.05,
                   seed: int = 0, min_score: float = 0.0) -> Scenario:
    """The scenario for one target of one sequence (see the module docstring)."""
    ped = pedestrians(read_mot(seq_dir / "gt" / "gt.txt"))
    rng = np.random.default_rng(seed + target)
    absent_row = (ped.visibility >= 0) & (ped.visibility < min_visibility)
    t_rows = ped.ids == target
    target_boxes = np.full((n_frames, 4), np.nan)
    target_boxes[ped.frame[t_rows] - 1] = xywh_to_xyxy(ped.xywh[t_rows])
    present = np.zeros(n_frames, bool)
    present[ped.frame[t_rows & ~absent_row] - 1] = True
    source_det = _source_detections(seq_dir, source, ped, n_frames, jitter, drop, rng, min_score)
    candidates = [f for f in np.flatnonzero(present) + 1 if _detected(source_det, target_boxes[f - 1], f)]
    if not candidates:
        raise TargetNotDetected(f"{seq_dir.name}: target {target} is never detected by the '{source}' detections")
    clear = [f for f in candidates if _isolated(ped, target, f)]
    enroll_frame = int(clear[0] if clear else candidates[0])
    rest = n_frames - enroll_frame
    hidden = (0, -1)
    if hide_fraction > 0 and rest >= 20:
        start = enroll_frame + int(0.4 * rest)
        hidden = (start, start + max(5, int(hide_fraction * rest)) - 1)
        present[hidden[0] - 1: hidden[1]] = False
    gone = absent_row | (t_rows & ~present[ped.frame - 1] & (ped.frame != enroll_frame))
    removed = _covers_absent(source_det, ped, gone)
    at_enroll = np.flatnonzero(source_det.frame == enroll_frame)
    removed[at_enroll[iou_matrix(target_boxes[enroll_frame - 1], xywh_to_xyxy(source_det.xywh[at_enroll]))[0]
                      >= MATCH_IOU]] = False                # the enrolled person's own detection stays
    det = subset(source_det, ~removed)
    others = [xywh_to_xyxy(ped.xywh[(ped.frame == f) & ~t_rows]) for f in range(1, n_frames + 1)]
    detectable = np.array([present[f - 1] and _detected(det, target_boxes[f - 1], f) for f in range(1, n_frames + 1)])
    return Scenario(seq_dir.name, target, source, enroll_frame, target_boxes[enroll_frame - 1].copy(), present,
                    hidden, det, target_boxes, others, detectable)


def _source_detections(seq_dir: Path, source: str, ped: MotRows, n_frames: int, jitter: float, drop: float,
                       rng: np.random.Generator, min_score: float) -> MotRows:
    """All detections of a source: gt boxes jittered (relative std ``jitter``), ``drop`` of them
    removed; or det.txt rows scoring at least ``min_score``."""
    if source == "gt":
        det = subset(ped, rng.random(len(ped.frame)) >= drop)
        sizes = np.repeat(det.xywh[:, 2:], 2, axis=1)
        det.xywh = det.xywh + rng.normal(0, jitter, det.xywh.shape) * sizes
        det.xywh[:, 2:] = np.maximum(det.xywh[:, 2:], 2.0)
        det.score = np.ones(len(det.frame))
        return det
    if source == "det":
        det = read_mot(seq_dir / "det" / "det.txt")
        return subset(det, (det.frame <= n_frames) & (det.score >= min_score))
    raise ValueError(f"unknown detection source {source!r}: 'gt' or 'det'")


def _detected(det: MotRows, box: np.ndarray, frame: int) -> bool:
    d = det.frame == frame
    return bool(d.any()) and float(iou_matrix(box, xywh_to_xyxy(det.xywh[d])).max()) >= MATCH_IOU


def _isolated(ped: MotRows, target: int, frame: int) -> bool:
    r = ped.frame == frame
    mine = xywh_to_xyxy(ped.xywh[r & (ped.ids == target)])
    rest = xywh_to_xyxy(ped.xywh[r & (ped.ids != target)])
    return not len(rest) or float(iou_matrix(mine, rest).max()) < 0.1


def _covers_absent(det: MotRows, ped: MotRows, absent: np.ndarray) -> np.ndarray:
    """Detections that are (IoU >= 0.5) the box of an absent person in their frame."""
    out = np.zeros(len(det.frame), bool)
    for f in np.unique(ped.frame[absent]):
        d = np.flatnonzero(det.frame == f)
        a = xywh_to_xyxy(ped.xywh[absent & (ped.frame == f)])
        if len(d):
            out[d] = iou_matrix(xywh_to_xyxy(det.xywh[d]), a).max(axis=1) >= MATCH_IOU
    return out


def score_run(sc: Scenario, outputs: list[FollowOutput]) -> dict:
    """Metrics of one run (see the module docstring) plus per-frame outcomes for the timeline."""
    n = len(sc.present)
    outcome = np.array(["none"] * n, dtype=object)
    for i, out in enumerate(outputs):
        if out.box is None:
            continue
        on_target = np.isfinite(sc.target_boxes[i]).all() and \
            iou_matrix(out.box, sc.target_boxes[i])[0, 0] >= MATCH_IOU
        on_other = len(sc.others[i]) and iou_matrix(out.box, sc.others[i]).max() >= MATCH_IOU
        outcome[i] = "target" if on_target else "other" if on_other else "elsewhere"
    after = np.arange(1, n + 1) >= sc.enroll_frame
    visible, absent = sc.present & after, ~sc.present & after
    reported = (outcome != "none") & after
    latencies, missed = [], 0
    for start in np.flatnonzero(visible[1:] & ~visible[:-1]) + 1:          # reappearances (0-based)
        end = start
        while end < n and visible[end]:
            end += 1
        hits = np.flatnonzero(outcome[start:end] == "target")
        if len(hits):
            latencies.append(int(hits[0]))
        else:
            missed += 1
    return dict(
        run=sc.name, frames=n, enroll_frame=sc.enroll_frame, visible_frames=int(visible.sum()),
        absent_frames=int(absent.sum()), hidden=list(sc.hidden),
        success=float((outcome[visible] == "target").mean()) if visible.any() else float("nan"),
        detector_recall=float(sc.detectable[visible].mean()) if visible.any() else float("nan"),
        wrong_person=float((outcome[reported] == "other").sum() / max(reported.sum(), 1)),
        wrong_frames=int((outcome[reported] == "other").sum()), reported_frames=int(reported.sum()),
        absent_correct=float(np.isin(outcome[absent], ["none", "target"]).mean()) if absent.any() else float("nan"),
        reappearances=len(latencies) + missed, reacquired=len(latencies), not_reacquired=missed,
        latency_mean=float(np.mean(latencies)) if latencies else float("nan"),
        latency_max=int(max(latencies)) if latencies else None,
        outcome=outcome.tolist())


def plot_timeline(path: Path, sc: Scenario, runs: dict[str, tuple[dict, list[FollowOutput]]]) -> None:
    """One PNG: target presence, then per follower the outcome and state of every frame."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"target": "tab:green", "other": "tab:red", "elsewhere": "tab:orange", "none": "lightgrey"}
    states = {"idle": 0, "enrolling": 1, "tracking": 2, "occluded": 3, "lost": 4}
    n = len(sc.present)
    frames = np.arange(1, n + 1)
    fig, axes = plt.subplots(1 + len(runs), 1, figsize=(11, 1.6 + 1.3 * len(runs)), sharex=True, squeeze=False)
    ax = axes[0, 0]
    ax.bar(frames, 1, width=1, color=np.where(sc.present, "tab:green", "black"))
    ax.set_yticks([])
    ax.set_ylabel("target", rotation=0, ha="right")
    ax.set_title(f"{sc.name}: target green = visible, black = absent or hidden; enrolled at frame "
                 f"{sc.enroll_frame}", fontsize=10)
    for row, (label, (metrics, outputs)) in enumerate(runs.items(), 1):
        ax = axes[row, 0]
        ax.bar(frames, 1, width=1, color=[colours[o] for o in metrics["outcome"]])
        ax.plot(frames, [1.1 + 0.2 * states.get(o.state, 0) for o in outputs], "k-", lw=1)
        ax.set_yticks([])
        ax.set_ylabel(Path(label).name, rotation=0, ha="right", fontsize=9)
        ax.text(1.005, 0.5, f"succ {metrics['success']:.2f}\nwrong {metrics['wrong_person']:.2f}",
                transform=ax.transAxes, fontsize=8, va="center")
    axes[-1, 0].set_xlabel("frame   (bars: green = on target, red = other person, orange = elsewhere, "
                           "grey = no output; line: state, low idle .. high lost)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
