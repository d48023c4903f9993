"""Frames from a video file or an image folder, with their count, for offline tools and bags."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


class FrameSource:
    """Iterate BGR uint8 frames of a video file or of the sorted images in a folder (or its img1/)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"input not found: {self.path}")
        self.images: list[Path] = []
        if self.path.is_dir():
            folder = self.path / "img1" if (self.path / "img1").is_dir() else self.path
            self.images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self.images:
                raise ValueError(f"no images ({sorted(IMAGE_SUFFIXES)}) in {folder}")
            self.fps = _seqinfo_fps(self.path) or 30.0
            self.count = len(self.images)
        else:
            cap = cv2.VideoCapture(str(self.path))
            if not cap.isOpened():
                raise ValueError(f"cannot open video {self.path}")
            self.fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
            self.count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            cap.release()

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[np.ndarray]:
        if self.images:
            for p in self.images:
                frame = cv2.imread(str(p), cv2.IMREAD_COLOR)
                if frame is None:
                    raise ValueError(f"cannot decode image {p}")
                yield frame
            return
        cap = cv2.VideoCapture(str(self.path))
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                yield frame
        finally:
            cap.release()


def _seqinfo_fps(folder: Path) -> float | None:
    ini = folder / "seqinfo.ini"
    if not ini.is_file():
        return None
    for line in ini.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip().lower() == "framerate":
            try:
                return float(value)
            except ValueError:
                return None
    return None
