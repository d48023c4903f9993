"""Reading person images: whole files, or crops of MOT frames (each frame decoded once)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from .base import DatasetError, ReidSample


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB; models are trained on RGB, OpenCV reads BGR."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise DatasetError(f"cannot read image {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def crop_box(frame: np.ndarray, box: tuple[float, float, float, float], path: Path) -> np.ndarray:
    """Pixels of ``box`` (x1, y1, x2, y2), clipped to the frame; an empty crop raises."""
    h, w = frame.shape[:2]
    x1, y1 = max(int(round(box[0])), 0), max(int(round(box[1])), 0)
    x2, y2 = min(int(round(box[2])), w), min(int(round(box[3])), h)
    if x2 <= x1 or y2 <= y1:
        raise DatasetError(f"box {box} lies outside the {w}x{h} frame {path}")
    return np.ascontiguousarray(frame[y1:y2, x1:x2])


def load_sample(sample: ReidSample) -> np.ndarray:
    """RGB pixels of one sample (the crop when it has a box)."""
    img = read_rgb(sample.path)
    return img if sample.box is None else crop_box(img, sample.box, sample.path)


def load_samples(samples: Sequence[ReidSample], progress: bool = False) -> list[np.ndarray]:
    """RGB pixels of many samples in order; every file is decoded once however many crops it holds."""
    by_path: dict[Path, list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        by_path[s.path].append(i)
    out: list[np.ndarray | None] = [None] * len(samples)
    for path, idxs in tqdm(by_path.items(), desc="reading images", unit="file", disable=not progress):
        img = read_rgb(path)
        for i in idxs:
            box = samples[i].box
            out[i] = img if box is None else crop_box(img, box, path)
    return out  # type: ignore[return-value]
