"""MOTChallenge text files (det.txt, gt.txt): frame,id,x,y,w,h,conf|flag,class,visibility (1-based)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


class MotFormatError(ValueError):
    """A malformed line in a MOTChallenge file; the message names the file and line number."""


@dataclass
class MotRows:
    """Rows of a MOT file as arrays; boxes are top-left x, y, width, height in pixels."""

    frame: np.ndarray      # (N,) int, 1-based
    ids: np.ndarray        # (N,) int (-1 for detections)
    xywh: np.ndarray       # (N, 4) float64
    score: np.ndarray      # (N,) float64: detection confidence, or gt's 'flag' column
    cls: np.ndarray        # (N,) int; -1 when absent
    visibility: np.ndarray  # (N,) float64; -1 when absent

    def at(self, frame: int) -> "MotRows":
        m = self.frame == frame
        return MotRows(self.frame[m], self.ids[m], self.xywh[m], self.score[m], self.cls[m], self.visibility[m])

    def __len__(self) -> int:
        return len(self.frame)


def read_mot(path: str | Path) -> MotRows:
    """Parse a comma- (or space-) separated MOT file; bad lines raise with their line number."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise MotFormatError(f"cannot read {path}: {e}") from e
    rows: list[list[float]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.replace(",", " ").split()
        if len(parts) < 6:
            raise MotFormatError(f"{path}:{lineno}: expected at least 6 columns "
                                 f"(frame,id,x,y,w,h,...), got {len(parts)}: {line!r}")
        try:
            vals = [float(p) for p in parts[:9]]
        except ValueError:
            raise MotFormatError(f"{path}:{lineno}: non-numeric value in {line!r}") from None
        if not all(np.isfinite(vals[:6])):
            raise MotFormatError(f"{path}:{lineno}: non-finite frame/id/box value in {line!r}")
        if vals[0] < 1 or vals[0] != int(vals[0]):
            raise MotFormatError(f"{path}:{lineno}: frame must be a 1-based integer, got {parts[0]!r}")
        if vals[4] <= 0 or vals[5] <= 0:
            raise MotFormatError(f"{path}:{lineno}: box width and height must be > 0 in {line!r}")
        vals += [1.0, -1.0, -1.0][len(vals) - 6:] if len(vals) < 9 else []
        rows.append(vals[:9])
    a = np.asarray(rows, dtype=np.float64).reshape(-1, 9)
    order = np.argsort(a[:, 0], kind="stable")
    a = a[order]
    return MotRows(a[:, 0].astype(int), a[:, 1].astype(int), a[:, 2:6].copy(), a[:, 6].copy(),
                   a[:, 7].astype(int), a[:, 8].copy())


def xywh_to_xyxy(b: np.ndarray) -> np.ndarray:
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)


def xyxy_to_xywh(b: np.ndarray) -> np.ndarray:
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)
