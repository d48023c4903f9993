"""Person crops from MOTChallenge sequences (``img1/`` + ``gt/gt.txt``) as a ReID dataset.

This is the data a robot team records itself: one moving camera, so there are no camera ids to
separate query from gallery. Instead each ground-truth track is cut in time and the parts act as
"cameras" — ``halves``: first vs second half of the track; ``segments``: the pieces between
occlusions (runs of frames where the person is missing or filtered out). Queries come from the
first part, the gallery from the others, so every correct match crosses time or an occlusion,
and adjacent near-duplicate frames never count as re-identification.

Identities (pooled over all sequences under the root, renumbered 1..N) are split into train and
test ids by ``test_fraction``; train ids give the training set, test ids query and gallery.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..config_base import param
from ..mot import MotFormatError, read_mot, xywh_to_xyxy
from .base import DatasetError, ReidDataset, ReidSample, Split, list_images, require_dir

SPLITS = ("halves", "segments")


@dataclass
class TrackletConfig:
    """How ground-truth boxes become ReID samples."""

    min_visibility: float = param(0.3, "skip boxes whose gt visibility is below this; unknown visibility (-1, e.g. PathTrack) is kept")
    min_height: float = param(48.0, "skip boxes shorter than this many pixels (after clipping to the frame)")
    min_width: float = param(16.0, "skip boxes narrower than this many pixels (after clipping to the frame)")
    classes: list[int] = param([1], "gt classes kept (1 = pedestrian); rows without a class column are kept; flag-0 rows always go")
    split: str = param("halves", "how a track is cut into query/gallery 'cameras': halves | segments (split at occlusions)")
    gap_frames: int = param(0, "halves: frames on either side of the middle of a track left out, so query and gallery are further apart in time")
    segment_gap: int = param(5, "segments: a run of at least this many frames without a usable box starts a new segment")
    sample_every: int = param(1, "keep every n-th usable box of a track (consecutive frames are near-duplicates)")
    min_samples: int = param(2, "drop identities with fewer usable boxes than this")
    test_fraction: float = param(0.5, "fraction of identities held out as query/gallery (0: all train, 1: all test)")
    seed: int = param(0, "seed of the train/test identity split")

    def validate(self) -> None:
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {self.split!r}")
        if not 0.0 <= self.test_fraction <= 1.0:
            raise ValueError(f"test_fraction must be in [0, 1], got {self.test_fraction}")
        for name in ("gap_frames", "segment_gap", "sample_every", "min_samples"):
            if getattr(self, name) < (0 if name == "gap_frames" else 1):
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


def find_sequences(root: Path) -> list[Path]:
    """``root`` itself if it is a sequence (has gt/gt.txt), else every sequence below it."""
    require_dir(root, "MOT root")
    if (root / "gt" / "gt.txt").is_file():
        return [root]
    seqs = sorted(p.parent.parent for p in root.rglob("gt/gt.txt"))
    if not seqs:
        raise DatasetError(f"no MOTChallenge sequence (gt/gt.txt) under {root}")
    return seqs


def _frame_paths(seq: Path) -> dict[int, Path]:
    img_dir = require_dir(seq / "img1", "MOT image folder")
    frames: dict[int, Path] = {}
    for p in list_images(img_dir):
        if not p.stem.isdigit():
            raise DatasetError(f"unexpected frame name {p} (expected 1-based numbers like 000001.jpg)")
        frames[int(p.stem)] = p
    if not frames:
        raise DatasetError(f"no frames in {img_dir}")
    return frames


def _track_parts(frames: np.ndarray, cfg: TrackletConfig) -> np.ndarray:
    """Camera id per usable box of one track (frames sorted); -1 marks boxes left out by the gap."""
    if cfg.split == "halves":
        middle = frames[(len(frames) - 1) // 2]
        part = (frames > middle).astype(int)
        near = np.abs(frames - (middle + 0.5)) < cfg.gap_frames + 0.5
        part[near] = -1
        return part
    jumps = np.diff(frames) > cfg.segment_gap
    return np.concatenate([[0], np.cumsum(jumps)]).astype(int)


class MotTracklets(ReidDataset):
    """ReID samples from the ground truth of one or more MOTChallenge sequences."""

    name = "mot"

    def __init__(self, root: str | Path, config: TrackletConfig | None = None) -> None:
        self.config = config or TrackletConfig()
        self.config.validate()
        super().__init__(root)

    def _sequence_tracks(self, seq: Path) -> dict[int, list[ReidSample]]:
        """Usable boxes of every gt id of one sequence, with their part as camera id."""
        cfg = self.config
        frames = _frame_paths(seq)
        gt_path = seq / "gt" / "gt.txt"
        try:
            rows = read_mot(gt_path)
        except MotFormatError as e:
            raise DatasetError(str(e)) from e
        missing = sorted(set(rows.frame.tolist()) - set(frames))
        if missing:
            raise DatasetError(f"{gt_path} refers to frames without an image in {seq / 'img1'}: "
                               f"{missing[:5]}{' ...' if len(missing) > 5 else ''}")
        first = cv2.imread(str(frames[min(frames)]), cv2.IMREAD_UNCHANGED)
        if first is None:
            raise DatasetError(f"cannot read image {frames[min(frames)]}")
        height, width = first.shape[:2]
        boxes = xywh_to_xyxy(rows.xywh)
        boxes = np.clip(boxes, 0, [width, height, width, height])
        keep = rows.score != 0
        keep &= (rows.cls < 0) | np.isin(rows.cls, cfg.classes)
        keep &= (rows.visibility < 0) | (rows.visibility >= cfg.min_visibility)
        keep &= (boxes[:, 2] - boxes[:, 0] >= cfg.min_width) & (boxes[:, 3] - boxes[:, 1] >= cfg.min_height)
        tracks: dict[int, list[ReidSample]] = {}
        for tid in np.unique(rows.ids[keep]):
            idx = np.flatnonzero(keep & (rows.ids == tid))
            idx = idx[np.argsort(rows.frame[idx], kind="stable")]
            parts = _track_parts(rows.frame[idx], cfg)
            chosen = [(i, p) for i, p in list(zip(idx, parts))[::cfg.sample_every] if p >= 0]
            if len(chosen) >= cfg.min_samples:
                tracks[int(tid)] = [ReidSample(frames[int(rows.frame[i])], 0, int(p),
                                               tuple(float(v) for v in boxes[i]), int(rows.frame[i]))
                                    for i, p in chosen]
        return tracks

    def _load(self) -> Split:
        cfg = self.config
        tracks: list[list[ReidSample]] = []
        for seq in find_sequences(self.root):
            tracks.extend(t for _, t in sorted(self._sequence_tracks(seq).items()))
        if not tracks:
            raise DatasetError(f"no track under {self.root} passes the filters {cfg}")
        order = np.random.default_rng(cfg.seed).permutation(len(tracks))
        num_test = int(round(cfg.test_fraction * len(tracks)))
        test_ids = set(order[:num_test].tolist())
        train, query, gallery = [], [], []
        for i, track in enumerate(tracks):
            samples = [ReidSample(s.path, i + 1, s.camid, s.box, s.frame) for s in track]
            if i not in test_ids:
                train.extend(samples)
            else:
                query.extend(s for s in samples if s.camid == 0)
                gallery.extend(s for s in samples if s.camid > 0)
        return train, query, gallery
