"""Following quality on sequences with ground truth: sequences, stress conditions, runs, metrics.

The development benchmark behind ``reid-follow eval-follow`` (issue 10). It has to be harsh enough
to predict held-out footage, so every target of every sequence is followed under every stress
condition (:class:`Condition`) by every follower on the same inputs.

Ground truth annotates people *through* occlusions, so a scenario makes people really disappear:
a gt box with visibility below ``min_visibility`` counts as absent and the detections on it (that
match no other gt box better) are removed (natural occlusions); a forced absence removes the
target's detections for 100 frames: every box with IoU >= 0.5 with it, and every looser one
(IoU >= 0.3) that overlaps it most (a loose detector box on the target stands in for it too:
HOG on PathTrack left boxes at IoU 0.3 that OSNet rightly recognised as the "absent" target).

Metrics per run, over the frames the condition keeps (fps subsampling scores only the kept ones),
from the enrollment frame on:

* success: visible-target frames whose output has IoU >= 0.5 with the target's gt box; bounded by
  ``detector_recall`` (the detection-only bound: visible-target frames where some detection of the
  condition has IoU >= 0.5 with it, which a follower that reports only detections cannot beat);
* wrong_person: reported frames whose box is on another annotated person (IoU >= 0.5 with them,
  < 0.5 with the target), over all reported frames;
* absent_correct: target-absent frames with no output, or one still on the target: IoU >= 0.5
  with its gt box, or at least ``PART_COVERAGE`` of the output inside that box and IoU < 0.5 with
  everyone else (a person whose gt visibility is below 0.3 can still show their head and
  shoulders: MOT16-05 person 14 at visibility 0 gets a detection of its upper half, inside its
  box, which a follower rightly keeps);
* re-acquired: re-appearances after >= ``REAPPEAR_GAP`` hidden frames found (an output on the
  target) within ``REACQUIRE_WITHIN`` frames; latency = frames to that first correct output.
  ``reacquirable``: those re-appearances where a detection of the target exists at all in that
  window (a follower that reports detections cannot find the others: re-acquisition's detection
  bound).
  Gaps and latencies count frames at the sequence's own rate, so a subsampled run measures the
  same events as the full one.

Sequences whose gt annotates one person only (the OTB clips) score success and re-acquisition;
wrong-person and absent-correct are None there: the other people in view are unannotated.
"""
from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reid_follow.follow.types import FollowOutput, State
from reid_follow.mot import MotRows, read_mot, xywh_to_xyxy, xyxy_to_xywh
from reid_follow.tracking.geometry import coverage_matrix, iou_matrix

MATCH_IOU = 0.5
PART_COVERAGE = 0.8     # an output this much inside the (hidden) target's box is on its visible part
TARGET_BOX_IOU = 0.3        # a box at this IoU may be the target's: enrollment's own matching threshold
                            # (FollowConfig.enroll_min_iou), so a loose box counts
BORDER_MARGIN = 0.01        # an enrollment box this close to the image border (share of its side) is cut by it
REAPPEAR_GAP = 5
REACQUIRE_WITHIN = 30
ABSENCE_FRAMES = 100
ENROLL_MISS_FRAMES = 4       # the enrollment frame and the next 3
DROP_FRACTION = 0.2
JITTER = 0.05
MIN_SEQUENCE_FRAMES = 30     # MOT17-mini's 4-8 frames cannot show following


class Condition(enum.StrEnum):
    """A stress condition applied to a sequence's detections and frames."""

    BASE = "base"
    FPS2 = "fps/2"
    FPS3 = "fps/3"
    FPS4 = "fps/4"
    DROP = "drop20"
    ENROLL_MISS = "enroll-miss"
    JITTER = "jitter5"
    ABSENCE = "absence100"

    @property
    def step(self) -> int:
        """Every ``step``-th frame is kept (frame rate divided by it)."""
        return {Condition.FPS2: 2, Condition.FPS3: 3, Condition.FPS4: 4}.get(self, 1)


class Outcome(enum.StrEnum):
    """What a frame's output was on."""

    TARGET = "target"
    TARGET_PART = "target part"     # inside the target's box, too small for IoU 0.5: its visible part
    OTHER = "other"
    ELSEWHERE = "elsewhere"
    NONE = "none"


def pedestrians(gt: MotRows) -> MotRows:
    """gt rows of real pedestrians (class 1, flag 1); files without a class column keep all rows."""
    m = ((gt.cls == 1) | (gt.cls == -1)) & (gt.score == 1)
    return subset(gt, m)


def subset(rows: MotRows, mask: np.ndarray) -> MotRows:
    return MotRows(rows.frame[mask], rows.ids[mask], rows.xywh[mask], rows.score[mask], rows.cls[mask],
                   rows.visibility[mask])


def sort_rows(rows: MotRows) -> MotRows:
    """Rows ordered by frame (what offline.mot_detections reads; MOT17 det files are unsorted)."""
    return subset(rows, np.argsort(rows.frame, kind="stable"))


@dataclass
class Sequence:
    """One sequence with its pedestrian gt and the base detections of one source."""

    name: str
    path: Path
    n_frames: int
    fps: float
    gt: MotRows
    detections: MotRows
    source: str                   # 'det.txt' or the detector's name
    full_gt: bool                 # every person annotated (False: only the target, as in OTB)
    size: tuple[int, int]         # (width, height) of the images
    min_visibility: float = 0.3

    def visible_rows(self) -> np.ndarray:
        """gt rows of people visible enough to count as present (unknown visibility = visible)."""
        v = self.gt.visibility
        return (v < 0) | (v >= self.min_visibility)

    def detector_recall(self) -> float:
        """Share of the visible gt boxes that some detection matches (IoU >= 0.5)."""
        rows = np.flatnonzero(self.visible_rows())
        boxes = xywh_to_xyxy(self.gt.xywh[rows])
        hits = [_detected(self.detections, b, int(self.gt.frame[r])) for r, b in zip(rows, boxes)]
        return float(np.mean(hits)) if hits else 0.0


def image_count(seq_dir: Path) -> int:
    """Frames present (MOT17-mini's seqinfo gives the original length, not the images here)."""
    return sum(1 for p in (seq_dir / "img1").iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def has_person_gt(seq_dir: Path) -> bool:
    return (seq_dir / "gt" / "gt.txt").is_file() and (seq_dir / "img1").is_dir()


def discover_sequences(data: Path) -> tuple[list[Path], list[str]]:
    """Sequence folders under ``data`` (one level of grouping, as MOT17-mini/) with person gt and
    at least MIN_SEQUENCE_FRAMES frames; and a line per sequence left out, saying why."""
    found, skipped = [], []
    for d in sorted(p for p in data.rglob("gt") if p.is_dir()):
        seq = d.parent
        if not has_person_gt(seq):
            continue
        n = image_count(seq)
        if n < MIN_SEQUENCE_FRAMES:
            skipped.append(f"{seq.relative_to(data)}: {n} frames, too short to follow anyone")
        else:
            found.append(seq)
    return found, skipped


def cached_detections(seq_dir: Path, detector_spec: str, cache: Path, progress: bool = True) -> MotRows:
    """The built-in detector's detections of every frame, as a MOT det file written once in ``cache``
    and read back on later runs (detection is the slowest step and does not change between runs).

    Low-score boxes (>= 0.1) are kept so that a tracker's second, low-score stage has them; the
    follower's ``min_detection_score`` still filters what it takes.
    """
    from reid_follow.config import DetectorConfig
    from reid_follow.video import FrameSource

    name = Path(detector_spec.removeprefix("onnx:")).stem
    path = cache / f"{seq_dir.name}-{name}.txt"
    if not path.is_file():
        from tqdm import tqdm

        from reid_follow.detect import build_detector

        detector = build_detector(DetectorConfig(detector_model=detector_spec, score_threshold=0.1, device="cpu"))
        lines = []
        source = FrameSource(seq_dir)
        for i, frame in enumerate(tqdm(source, total=len(source), desc=f"detect {seq_dir.name}", unit="frame",
                                       disable=not progress), 1):
            boxes, scores = detector.detect(frame)
            lines += [f"{i},-1,{x:.1f},{y:.1f},{w:.1f},{h:.1f},{s:.4f},-1,-1,-1"
                      for (x, y, w, h), s in zip(xyxy_to_xywh(boxes), scores)]
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in lines))
        tmp.replace(path)
    return sort_rows(read_mot(path)) if path.stat().st_size else _empty_rows()


def _empty_rows() -> MotRows:
    z = np.zeros(0)
    return MotRows(z.astype(int), z.astype(int), np.zeros((0, 4)), z, z.astype(int), z)


def load_sequence(seq_dir: Path, source: str, detector_spec: str, cache: Path, min_visibility: float = 0.3,
                  progress: bool = True) -> Sequence:
    """A sequence with the detections of ``source``: 'det.txt' (its own file), 'detector' (the
    built-in one, cached), or 'gt' (every annotated pedestrian's box: a perfect detector, which
    tells the follower's own failures from the detector's)."""
    from reid_follow.video import FrameSource

    n = image_count(seq_dir)
    gt = pedestrians(read_mot(seq_dir / "gt" / "gt.txt"))
    gt = subset(gt, gt.frame <= n)
    if source == "det.txt":
        det = read_mot(seq_dir / "det" / "det.txt")
        det, label = sort_rows(subset(det, det.frame <= n)), "det.txt"
        if len(det) and (det.score.min() < 0 or det.score.max() > 1):
            # DPM's (MOT16) scores are SVM margins, -0.5 to 3: squashed by a logistic into [0, 1], the
            # scale of the follower's and tracker's score thresholds, so that no row is cut unseen.
            det.score = 1.0 / (1.0 + np.exp(-det.score))
    elif source == "gt":
        det, label = sort_rows(subset(gt, np.ones(len(gt), bool))), "gt"
        det.score = np.ones(len(det))
    else:
        det, label = cached_detections(seq_dir, detector_spec, cache, progress), Path(
            detector_spec.removeprefix("onnx:")).stem
    frames = FrameSource(seq_dir)
    height, width = next(iter(frames)).shape[:2]
    return Sequence(seq_dir.name, seq_dir, n, frames.fps, gt, det, label,
                    full_gt=len(np.unique(gt.ids)) > 1, size=(width, height), min_visibility=min_visibility)


def enrollment_frame(seq: Sequence, target: int) -> int | None:
    """The first frame where the target is fully visible, as a user would pick it: the box inside
    the image (at least BORDER_MARGIN of each side from its edges: PathTrack persons 15 and 16
    walk in at x = 1 px, half outside, where the detector finds a sliver of them), and visibility
    >= 0.9 where the gt has it, else at most 10 % of the box covered by nearer people (lower feet)
    and no other person's box overlapping it with IoU >= TARGET_BOX_IOU (a box that would match
    their detection as well: PathTrack person 20 at frame 26 overlaps person 13 with IoU 0.51, and
    the enrollment took 13's detection)."""
    size = np.array(seq.size, dtype=float)
    margin = BORDER_MARGIN * size
    rows = np.flatnonzero(seq.gt.ids == target)
    for i in rows[np.argsort(seq.gt.frame[rows])]:
        box = xywh_to_xyxy(seq.gt.xywh[i])
        if (box[0, :2] < margin).any() or (box[0, 2:] > size - margin).any():
            continue
        v = seq.gt.visibility[i]
        if v >= 0:
            if v >= 0.9:
                return int(seq.gt.frame[i])
            continue
        f = seq.gt.frame[i]
        others = xywh_to_xyxy(seq.gt.xywh[(seq.gt.frame == f) & (seq.gt.ids != target)])
        nearer = others[others[:, 3] > box[0, 3]]
        if (not len(nearer) or coverage_matrix(box, nearer).sum() <= 0.1) \
                and (not len(others) or iou_matrix(box, others).max() < TARGET_BOX_IOU):
            return int(f)
    return None


def choose_targets(seq: Sequence, count: int | None, min_height: float = 50.0) -> list[int]:
    """Up to ``count`` (None: all) people a robot could be asked to follow: in >= 50 % of the frames, visible in
    >= 25 %, median height >= ``min_height`` px, fully visible in some frame. The hardest first:
    most frames hidden by natural occlusion, then the longest present."""
    vis = seq.visible_rows()
    chosen = []
    for tid in np.unique(seq.gt.ids):
        r = seq.gt.ids == tid
        if seq.full_gt and (r.sum() < 0.5 * seq.n_frames or (r & vis).sum() < 0.25 * seq.n_frames
                            or np.median(seq.gt.xywh[r, 3]) < min_height):
            continue
        if enrollment_frame(seq, int(tid)) is None:
            continue
        chosen.append((-int((r & ~vis).sum()), -int(r.sum()), int(tid)))
    chosen.sort()
    return [tid for *_, tid in chosen[:count]]


@dataclass
class Scenario:
    """One following run to evaluate: a target, a condition, the frames kept and their detections."""

    sequence: str
    source: str
    target: int
    condition: Condition
    enroll_frame: int
    enroll_box: np.ndarray          # xyxy, the target's gt box there (what a user draws)
    frames: np.ndarray              # kept 1-based frame numbers, ascending
    present: np.ndarray             # (kept,) bool: target visible
    target_boxes: np.ndarray        # (kept, 4) xyxy, NaN where the target has no gt box
    detections: MotRows             # the condition's detections (of the kept frames)
    detectable: np.ndarray          # (kept,) bool: some detection matches the visible target
    full_gt: bool
    fps: float                      # the kept frames' rate
    others: list[np.ndarray] = field(default_factory=list)      # per kept frame: other people's boxes
    other_ids: list[np.ndarray] = field(default_factory=list)
    hidden: tuple[int, int] | None = None    # forced absence [first, last] frame

    @property
    def name(self) -> str:
        return f"{self.sequence}-{self.source}-id{self.target}-{self.condition.value.replace('/', '')}"

    @property
    def enroll_index(self) -> int:
        return int(np.searchsorted(self.frames, self.enroll_frame))


def build_scenario(seq: Sequence, target: int, condition: Condition, seed: int = 0,
                   absence_frames: int = ABSENCE_FRAMES, absence_at: int | None = None) -> Scenario | None:
    """The scenario for one target under one condition (see the module docstring); None where the
    condition does not apply (a forced absence in a sequence too short for it). The forced absence
    starts at frame ``absence_at`` (default: a fifth of its length after enrollment, at least
    REAPPEAR_GAP); ``absence_frames`` shortens it for scenario tests on short sequences."""
    e = enrollment_frame(seq, target)
    if e is None:
        raise ValueError(f"{seq.name}: target {target} is never fully visible")
    n = seq.n_frames
    gt = seq.gt
    t_rows = gt.ids == target
    absent_row = ~seq.visible_rows()
    forced = np.zeros(len(gt.frame), bool)
    absence = None
    if condition == Condition.ABSENCE:
        margin = max(absence_frames // 5, REAPPEAR_GAP)     # frames seen before and after it
        first = e + margin if absence_at is None else absence_at
        if first <= e or first + absence_frames - 1 + margin > n:
            return None
        absence = (first, first + absence_frames - 1)
        forced = t_rows & (gt.frame >= absence[0]) & (gt.frame <= absence[1])
        absent_row = absent_row | forced
    rng = np.random.default_rng([seed, target, list(Condition).index(condition)])
    det = seq.detections
    # Occluded people lose the detections that are theirs; a target taken out of the scene loses
    # every detection on its box (nothing may stand in for it during the absence).
    gone = _covers(det, gt, absent_row & (gt.frame != e)) | _covers(det, gt, forced, own_only=False)
    if absence is not None:
        gone |= target_detections(seq, target, range(absence[0], absence[1] + 1))
    if condition == Condition.DROP:
        gone |= rng.random(len(det)) < DROP_FRACTION
    if condition == Condition.ENROLL_MISS:
        gone |= target_detections(seq, target, range(e, e + ENROLL_MISS_FRAMES))
    det = subset(det, ~gone)
    if condition == Condition.JITTER:
        det = jitter(det, JITTER, rng)
    step = condition.step
    frames = np.arange(1 + (e - 1) % step, n + 1, step)
    det = subset(det, np.isin(det.frame, frames))
    target_boxes = np.full((n, 4), np.nan)
    target_boxes[gt.frame[t_rows] - 1] = xywh_to_xyxy(gt.xywh[t_rows])
    present = np.zeros(n, bool)
    present[gt.frame[t_rows & ~absent_row] - 1] = True
    k = frames - 1
    others, other_ids = [], []
    for f in frames:
        r = (gt.frame == f) & ~t_rows
        others.append(xywh_to_xyxy(gt.xywh[r]))
        other_ids.append(gt.ids[r].copy())
    detectable = np.array([present[f - 1] and _detected(det, target_boxes[f - 1], f) for f in frames])
    return Scenario(seq.name, seq.source, target, condition, e, target_boxes[e - 1].copy(), frames,
                    present[k], target_boxes[k], det, detectable, seq.full_gt, seq.fps / step, others,
                    other_ids, absence)


def target_detections(seq: Sequence, target: int, frames: range) -> np.ndarray:
    """Mask of the detections that are the target's in ``frames``: IoU >= TARGET_BOX_IOU (enrollment's own
    matching threshold, so a loose box counts) with its gt box, and the target is the annotated
    person the detection overlaps most."""
    det, gt = seq.detections, seq.gt
    out = np.zeros(len(det), bool)
    for f in frames:
        d = np.flatnonzero(det.frame == f)
        g = gt.frame == f
        if not len(d) or not (g & (gt.ids == target)).any():
            continue
        iou = iou_matrix(xywh_to_xyxy(det.xywh[d]), xywh_to_xyxy(gt.xywh[g]))
        col = int(np.flatnonzero(gt.ids[g] == target)[0])
        out[d] = (iou[:, col] >= TARGET_BOX_IOU) & (iou.argmax(axis=1) == col)
    return out


def jitter(det: MotRows, rel: float, rng: np.random.Generator) -> MotRows:
    """Detections with every box coordinate moved by a normal draw of std ``rel`` x the box size."""
    xywh = det.xywh + rng.normal(0.0, rel, det.xywh.shape) * np.tile(det.xywh[:, 2:], 2)
    xywh[:, 2:] = np.maximum(xywh[:, 2:], 2.0)
    return MotRows(det.frame.copy(), det.ids.copy(), xywh, det.score.copy(), det.cls.copy(), det.visibility.copy())


def _detected(det: MotRows, box: np.ndarray, frame: int) -> bool:
    d = det.frame == frame
    return bool(d.any()) and float(iou_matrix(box, xywh_to_xyxy(det.xywh[d])).max()) >= MATCH_IOU


def _covers(det: MotRows, gt: MotRows, rows: np.ndarray, own_only: bool = True) -> np.ndarray:
    """Detections that are (IoU >= 0.5) the box of a gt row in ``rows`` in its frame; with
    ``own_only``, only those that match no other gt box of that frame better: a visible person in
    front of a hidden one keeps their own detection (MOT16-05: person 2, visibility 0.07, stands
    behind person 1 with IoU 0.67-0.76; removing every detection on person 2 deleted person 1's
    on most frames)."""
    out = np.zeros(len(det), bool)
    for f in np.unique(gt.frame[rows]):
        d = np.flatnonzero(det.frame == f)
        if len(d):
            g = gt.frame == f
            iou = iou_matrix(xywh_to_xyxy(det.xywh[d]), xywh_to_xyxy(gt.xywh[g]))
            if own_only:
                best = iou.argmax(axis=1)
                out[d] = rows[g][best] & (iou[np.arange(len(d)), best] >= MATCH_IOU)
            else:
                out[d] = (iou[:, rows[g]] >= MATCH_IOU).any(axis=1)
    return out


def outcomes(sc: Scenario, outputs: list[FollowOutput]) -> list[Outcome]:
    """What each kept frame's output was on."""
    res = []
    for i, out in enumerate(outputs):
        if out.box is None:
            res.append(Outcome.NONE)
        elif np.isfinite(sc.target_boxes[i]).all() and iou_matrix(out.box, sc.target_boxes[i])[0, 0] >= MATCH_IOU:
            res.append(Outcome.TARGET)
        elif len(sc.others[i]) and iou_matrix(out.box, sc.others[i]).max() >= MATCH_IOU:
            res.append(Outcome.OTHER)
        elif np.isfinite(sc.target_boxes[i]).all() and \
                coverage_matrix(out.box, sc.target_boxes[i])[0, 0] >= PART_COVERAGE:
            res.append(Outcome.TARGET_PART)
        else:
            res.append(Outcome.ELSEWHERE)
    return res


def score_run(sc: Scenario, outputs: list[FollowOutput]) -> dict:
    """Metrics of one run (see the module docstring) and the per-frame outcomes (for the timeline)."""
    if len(outputs) != len(sc.frames):
        raise ValueError(f"{len(outputs)} outputs for {len(sc.frames)} kept frames")
    outcome = np.array(outcomes(sc, outputs), dtype=object)
    after = sc.frames >= sc.enroll_frame
    visible, absent = sc.present & after, ~sc.present & after
    reported = (outcome != Outcome.NONE) & after
    latencies, missed, detected = [], 0, 0
    last_seen = None
    for j in np.flatnonzero(after):
        if not visible[j]:
            continue
        if last_seen is not None and sc.frames[j] - sc.frames[last_seen] - 1 >= REAPPEAR_GAP:
            window = (sc.frames >= sc.frames[j]) & (sc.frames <= sc.frames[j] + REACQUIRE_WITHIN)
            detected += int((window & visible & sc.detectable).any())
            hits = np.flatnonzero(window & (outcome == Outcome.TARGET))
            if len(hits):
                latencies.append(int(sc.frames[hits[0]] - sc.frames[j]))
            else:
                missed += 1
        last_seen = j
    wrong = int((outcome[reported] == Outcome.OTHER).sum())
    return dict(
        run=sc.name, sequence=sc.sequence, source=sc.source, target=sc.target, condition=sc.condition.value,
        frames=len(sc.frames), enroll_frame=sc.enroll_frame, visible_frames=int(visible.sum()),
        absent_frames=int(absent.sum()), full_gt=sc.full_gt,
        success=float((outcome[visible] == Outcome.TARGET).mean()) if visible.any() else None,
        detector_recall=float(sc.detectable[visible].mean()) if visible.any() else None,
        wrong_person=wrong / max(int(reported.sum()), 1) if sc.full_gt else None,
        wrong_frames=wrong if sc.full_gt else None, reported_frames=int(reported.sum()),
        absent_correct=(float(np.isin(outcome[absent], [Outcome.NONE, Outcome.TARGET, Outcome.TARGET_PART]).mean())
                        if sc.full_gt and absent.any() else None),
        reappearances=len(latencies) + missed, reacquired=len(latencies), reacquirable=detected,
        latency_mean=float(np.mean(latencies)) if latencies else None,
        predicted_frames=int(sum(o.predicted for o in outputs)),
        outcome=[str(o) for o in outcome])


# ---------------------------------------------------------------------------------------------
# Running followers on a scenario


class CachedEmbedder:
    """An embedder that computes each (frame, box) once for the whole evaluation.

    Conditions share most boxes (the same frames and detections, minus some), so the embeddings
    of one pass serve them all. Frames are told apart by object identity: the evaluation keeps
    every decoded frame of the sequence alive while it runs. ``compute_s`` / ``computed`` give the
    embedder's own cost per crop, from which a run's ms/frame is reported as if nothing were cached.
    """

    def __init__(self, embedder: object) -> None:
        self.inner = embedder
        self.dim = embedder.dim
        self.cache: dict[tuple[int, bytes], np.ndarray] = {}
        self.requested = 0
        self.computed = 0
        self.compute_s = 0.0
        self.elapsed_s = 0.0       # time spent inside embed(), cached lookups included

    def embed(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        keys = [(id(frame), b.round(1).tobytes()) for b in boxes]
        todo = [i for i, k in enumerate(keys) if k not in self.cache]
        if todo:
            t1 = time.perf_counter()
            new = self.inner.embed(frame, boxes[todo])
            self.compute_s += time.perf_counter() - t1
            self.computed += len(todo)
            for i, e in zip(todo, new):
                self.cache[keys[i]] = e
        self.requested += len(boxes)
        out = np.stack([self.cache[k] for k in keys]) if keys else np.zeros((0, self.dim), np.float32)
        self.elapsed_s += time.perf_counter() - t0
        return out

    def forget(self) -> None:
        """Drop the cache (the next sequence's frames are other objects)."""
        self.cache.clear()

    @property
    def ms_per_crop(self) -> float:
        return 1e3 * self.compute_s / max(self.computed, 1)


@dataclass
class RunResult:
    outputs: list[FollowOutput]
    loop_s: float                    # wall time of the follow loop
    embed_s: float = 0.0             # of it inside the (cached) embedder
    crops: int = 0                   # crops the follower asked embeddings of
    enroll_error: str = ""


def _frames_and_detections(sc: Scenario, images: list[np.ndarray]):
    from reid_follow.follow.offline import mot_detections

    by_frame = mot_detections(sc.detections)
    frames = [images[f - 1] for f in sc.frames]
    return frames, (lambda i, frame: by_frame(int(sc.frames[i - 1]), frame))


def run_follower(sc: Scenario, images: list[np.ndarray], make_follower: Callable[[], object],
                 embedder: CachedEmbedder | None,
                 on_frame: Callable[[int, np.ndarray, FollowOutput], None] | None = None) -> RunResult:
    """A TargetFollower over the scenario's kept frames, enrolled by the gt box; an enrollment that
    fails leaves the run with no output (scored, not skipped: a user would get nothing either).
    ``on_frame`` is follow_frames' per-frame callback (for tests that watch the follower)."""
    from reid_follow.follow.offline import EnrollmentError, follow_frames

    frames, detections = _frames_and_detections(sc, images)
    before = (embedder.elapsed_s, embedder.requested) if embedder else (0.0, 0)
    t0 = time.perf_counter()
    error = ""
    try:
        outputs = follow_frames(make_follower(), frames, detections, sc.enroll_index + 1, sc.enroll_box,
                                total=len(frames), fps=sc.fps, progress=False, on_frame=on_frame)
    except EnrollmentError as e:
        error = str(e)
        outputs = [FollowOutput(State.IDLE) for _ in frames]
    loop = time.perf_counter() - t0
    if embedder is None:
        return RunResult(outputs, loop, enroll_error=error)
    return RunResult(outputs, loop, embedder.elapsed_s - before[0], embedder.requested - before[1], error)


def run_tracker_peer(sc: Scenario, images: list[np.ndarray], cfg: object, embedder: CachedEmbedder | None) -> RunResult:
    """The behaviour of a stock tracker: the project's MultiTracker (same detection pre-filter,
    appearance association with ``embedder``) following the track enrolled on, never re-acquiring.
    Enrollment takes the track on the best-overlapping detection (IoU >= follow.enroll_min_iou),
    else starts a track from the box; the reported box is that track's detection, when matched."""
    from reid_follow.detect import nms
    from reid_follow.tracking.tracker import MultiTracker

    frames, detections = _frames_and_detections(sc, images)
    tracker = MultiTracker(cfg.tracking)
    before = (embedder.elapsed_s, embedder.requested) if embedder else (0.0, 0)
    outputs: list[FollowOutput] = []
    target_id = None
    t0 = time.perf_counter()
    for i, frame in enumerate(frames, 1):
        boxes, scores = detections(i, frame)
        keep = scores >= cfg.min_detection_score
        boxes, scores = nms(boxes[keep], scores[keep], cfg.nms_iou)
        embed = (lambda idx, f=frame, b=boxes: embedder.embed(f, b[idx])) if embedder else None
        tracks = tracker.update(boxes, frame, embed, scores=scores)
        if i == sc.enroll_index + 1:
            matched = [t for t in tracks if t.detection >= 0]
            iou = iou_matrix(sc.enroll_box, boxes[[t.detection for t in matched]])[0] if matched else np.zeros(0)
            if len(iou) and iou.max() >= cfg.enroll_min_iou:
                target_id = matched[int(iou.argmax())].track_id
                tracker.confirm(target_id)
            else:
                target_id = tracker.start_track(sc.enroll_box).track_id
            outputs.append(FollowOutput(State.TRACKING, sc.enroll_box.copy(), 1.0, target_id))
            continue
        t = tracker.get(target_id)
        if target_id is None:
            outputs.append(FollowOutput(State.IDLE))
        elif t is not None and t.detection >= 0:
            outputs.append(FollowOutput(State.TRACKING, boxes[t.detection].copy(), 1.0, target_id))
        else:
            outputs.append(FollowOutput(State.LOST))
    loop = time.perf_counter() - t0
    if embedder is None:
        return RunResult(outputs, loop)
    return RunResult(outputs, loop, embedder.elapsed_s - before[0], embedder.requested - before[1])


def ms_per_frame(run: RunResult, embedder: CachedEmbedder | None) -> float:
    """The run's cost per frame as if every crop had been embedded (the cache's saving put back)."""
    loop = run.loop_s
    if embedder is not None:
        loop += run.crops * embedder.ms_per_crop / 1e3 - run.embed_s
    return 1e3 * loop / max(len(run.outputs), 1)


# ---------------------------------------------------------------------------------------------
# Score calibration


class ScoreKind(enum.StrEnum):
    """Whom a scored track was on (see calibration_samples)."""

    TARGET = "target"
    SEEN = "seen distractor"
    NEVER_SEEN = "never-seen person"


def calibration_samples(sc: Scenario, outputs: list[FollowOutput]) -> dict[ScoreKind, list[float]]:
    """The target confidences a follower gave (FollowOutput.scores), by whom each scored track was
    on: the target; a person seen while the target was tracked (a distractor the model could learn);
    a person never seen so (an open-set model must score them low). Tracks are mapped to gt people
    by IoU >= 0.5 of the track's matched box; only for sequences where every person is annotated."""
    samples: dict[ScoreKind, list[float]] = {k: [] for k in ScoreKind}
    if not sc.full_gt:
        return samples
    seen: set[int] = set()
    for i, out in enumerate(outputs):
        if sc.frames[i] < sc.enroll_frame or not out.tracks:
            continue
        people = sc.others[i]
        ids = sc.other_ids[i]
        if np.isfinite(sc.target_boxes[i]).all():
            people = np.vstack([people.reshape(-1, 4), sc.target_boxes[i]])
            ids = np.append(ids, sc.target)
        if not len(ids):
            continue
        tids = [tid for tid, _ in out.tracks]
        iou = iou_matrix(np.array([b for _, b in out.tracks]), people)
        who = {tid: int(ids[row.argmax()]) for tid, row in zip(tids, iou) if row.max() >= MATCH_IOU}
        for tid, s in out.scores.items():
            if tid in who:
                g = who[tid]
                kind = ScoreKind.TARGET if g == sc.target else ScoreKind.SEEN if g in seen else ScoreKind.NEVER_SEEN
                samples[kind].append(float(s))
        if out.state == State.TRACKING:
            seen |= {g for g in who.values() if g != sc.target}
    return samples


def calibration_summary(samples: dict[ScoreKind, list[float]]) -> dict:
    """Per kind: count, mean and quartiles; and how well the score separates the target from each
    kind of stranger (ROC AUC: the chance that a random target score beats a random stranger's)."""
    from scipy.stats import mannwhitneyu

    out: dict = {}
    for kind, v in samples.items():
        a = np.asarray(v)
        out[kind.value] = dict(count=len(a), mean=float(a.mean()) if len(a) else None,
                               quartiles=np.percentile(a, [25, 50, 75]).tolist() if len(a) else None)
    target = np.asarray(samples[ScoreKind.TARGET])
    for kind in (ScoreKind.SEEN, ScoreKind.NEVER_SEEN):
        other = np.asarray(samples[kind])
        auc = None
        if len(target) and len(other):
            auc = float(mannwhitneyu(target, other).statistic / (len(target) * len(other)))
        out[f"auc_target_vs_{kind.name.lower()}"] = auc
    return out


# ---------------------------------------------------------------------------------------------
# Plots


def plot_timeline(path: Path, sc: Scenario, runs: dict[str, tuple[dict, list[FollowOutput]]]) -> None:
    """One PNG: target presence, then per follower the outcome and state of every kept frame."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {Outcome.TARGET: "tab:green", Outcome.TARGET_PART: "yellowgreen", Outcome.OTHER: "tab:red",
               Outcome.ELSEWHERE: "tab:orange", Outcome.NONE: "lightgrey"}
    states = {s.value: i for i, s in enumerate(State)}
    frames = sc.frames
    fig, axes = plt.subplots(1 + len(runs), 1, figsize=(11, 1.6 + 1.3 * len(runs)), sharex=True, squeeze=False)
    ax = axes[0, 0]
    ax.bar(frames, 1, width=sc.condition.step, color=np.where(sc.present, "tab:green", "black"))
    ax.set_yticks([])
    ax.set_ylabel("target", rotation=0, ha="right")
    ax.set_title(f"{sc.name}: target green = visible, black = absent or hidden; enrolled at frame "
                 f"{sc.enroll_frame}", fontsize=10)
    for row, (label, (metrics, outputs)) in enumerate(runs.items(), 1):
        ax = axes[row, 0]
        ax.bar(frames, 1, width=sc.condition.step, color=[colours[o] for o in metrics["outcome"]])
        ax.plot(frames, [1.1 + 0.2 * states.get(str(o.state), 0) for o in outputs], "k-", lw=1)
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", fontsize=9)
        wrong = metrics["wrong_person"]
        ax.text(1.005, 0.5, f"succ {metrics['success'] or 0:.2f}\nwrong " +
                ("n/a" if wrong is None else f"{wrong:.2f}"), transform=ax.transAxes, fontsize=8, va="center")
    axes[-1, 0].set_xlabel("frame   (bars: green = on target, light green = on its visible part, red = other "
                           "person, orange = elsewhere, grey = no output; line: state, low idle .. high lost)",
                           fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_summary(path: Path, by_condition: list[dict], calibration: dict[str, dict[ScoreKind, list[float]]]) -> None:
    """One PNG: macro success (bars) and wrong-person (dots) per condition and follower, and the
    target-confidence distributions of target / seen distractor / never-seen person per embedder."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    followers = list(dict.fromkeys(r["follower"] for r in by_condition))
    conditions = list(dict.fromkeys(r["condition"] for r in by_condition))
    cal = {k: v for k, v in calibration.items() if any(v.values())}
    fig, axes = plt.subplots(1, 1 + len(cal), figsize=(7 + 3.5 * len(cal), 4.2), squeeze=False)
    ax = axes[0, 0]
    width = 0.8 / max(len(followers), 1)
    x = np.arange(len(conditions))
    for k, f in enumerate(followers):
        rows = {r["condition"]: r for r in by_condition if r["follower"] == f}
        succ = [rows[c]["success"] if c in rows else np.nan for c in conditions]
        wrong = [rows[c]["wrong_person"] if c in rows and rows[c]["wrong_person"] is not None else np.nan
                 for c in conditions]
        bars = ax.bar(x + k * width, succ, width, label=f)
        ax.plot(x + k * width, wrong, "v", color=bars.patches[0].get_facecolor(), mec="k", ms=6)
    ax.set_xticks(x + 0.4 - width / 2, conditions, rotation=30, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_title("macro success (bars), wrong-person (triangles)", fontsize=10)
    ax.legend(fontsize=7)
    for ax, (label, samples) in zip(axes[0, 1:], cal.items()):
        for kind, v in samples.items():
            if v:
                ax.hist(v, bins=20, range=(0, 1), density=True, histtype="step", lw=1.5, label=f"{kind} ({len(v)})")
        ax.set_title(f"target confidence: {label}", fontsize=10)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
