"""Identity consistency of the tracker on ground-truth boxes under stress (frame rate, drops, jitter).

The follower only works if the tracker keeps one id per person; this measures exactly that, without
the follower on top: gt boxes are degraded the way a real detector and a slow pipeline degrade them
(every k-th frame only, a fraction dropped, edges jittered), fed to :class:`MultiTracker`, and every
matched track is scored against the gt id of the detection it took.

- *id switches*: per gt person, how often the track id on it changes between its matched frames;
- *IDF1*: the share of gt boxes carried by the track that is one-to-one assigned to their person
  (Hungarian on co-occurrence counts, as in Ristani et al. 2016), over gt boxes plus tracker outputs.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from reid_follow.mot import read_mot, xywh_to_xyxy
from reid_follow.reid import Embedder
from reid_follow.tracking.config import TrackerConfig
from reid_follow.tracking.tracker import MultiTracker
from reid_follow.video import FrameSource


@dataclass(frozen=True)
class Stress:
    """How the gt boxes are degraded: keep every ``every``-th frame, drop ``drop`` of the boxes,
    move each edge by N(0, ``jitter`` x box size), and give ``weak`` of the kept boxes a low score."""

    every: int = 1
    drop: float = 0.2
    jitter: float = 0.05
    weak: float = 0.0
    weak_score: float = 0.3
    seed: int = 0


@dataclass(frozen=True)
class IdentityScore:
    """Identity consistency of one run (see the module docstring)."""

    id_switches: int
    idf1: float
    gt_boxes: int
    matched: int


def stressed_frames(seq: Path, stress: Stress) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]]:
    """Per kept frame: (image, xyxy boxes, scores, gt ids, gt count before dropping) after ``stress``.

    Pedestrians with visibility >= 0.5 (all where the file has no visibility) are the gt; dropped
    boxes are left out of the arrays but counted, so they score as missed.
    """
    gt = read_mot(seq / "gt" / "gt.txt")
    keep = ((gt.cls == 1) | (gt.cls == -1)) & (gt.score == 1) & ((gt.visibility < 0) | (gt.visibility >= 0.5))
    rng = np.random.default_rng(stress.seed)
    for i, image in enumerate(FrameSource(seq), 1):
        if (i - 1) % stress.every:
            continue
        rows = keep & (gt.frame == i)
        boxes, ids = xywh_to_xyxy(gt.xywh[rows]), gt.ids[rows]
        size = np.tile(boxes[:, 2:] - boxes[:, :2], 2)
        boxes = boxes + rng.normal(0.0, stress.jitter, boxes.shape) * size
        scores = np.where(rng.random(len(boxes)) < stress.weak, stress.weak_score, 1.0)
        kept = rng.random(len(boxes)) >= stress.drop
        yield image, boxes[kept], scores[kept], ids[kept], len(ids)


def track_gt(seq: Path, stress: Stress, cfg: TrackerConfig | None = None,
             embedder: Embedder | None = None) -> tuple[list[tuple[int, int, int]], int]:
    """Run the tracker on stressed gt; the (frame, gt id, track id) matches and the gt box count."""
    tracker = MultiTracker(cfg or TrackerConfig())
    matches: list[tuple[int, int, int]] = []
    gt_boxes = 0
    for f, (image, boxes, scores, ids, count) in enumerate(stressed_frames(seq, stress)):
        gt_boxes += count
        embed = (lambda idx, im=image, b=boxes: embedder.embed(im, b[idx])) if embedder else None
        tracks = tracker.update(boxes, image, embed, scores=scores)
        matches += [(f, int(ids[t.detection]), t.track_id) for t in tracks if t.detection >= 0]
    return matches, gt_boxes


def identity_score(matches: list[tuple[int, int, int]], gt_boxes: int) -> IdentityScore:
    """Id switches and IDF1 of (frame, gt id, track id) matches against ``gt_boxes`` gt boxes."""
    switches = 0
    by_gt: dict[int, list[int]] = {}
    for _, gid, tid in sorted(matches):
        by_gt.setdefault(gid, []).append(tid)
    for tids in by_gt.values():
        switches += sum(a != b for a, b in zip(tids, tids[1:]))
    counts = Counter((g, t) for _, g, t in matches)
    gids = sorted({g for g, _ in counts})
    tids = sorted({t for _, t in counts})
    overlap = np.zeros((len(gids), len(tids)))
    for (g, t), n in counts.items():
        overlap[gids.index(g), tids.index(t)] = n
    rows, cols = linear_sum_assignment(-overlap) if overlap.size else ([], [])
    idtp = float(overlap[rows, cols].sum()) if overlap.size else 0.0
    denominator = gt_boxes + len(matches)
    return IdentityScore(switches, 2 * idtp / denominator if denominator else 0.0, gt_boxes, len(matches))
