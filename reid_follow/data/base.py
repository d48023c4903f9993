"""What every ReID dataset reader produces: train / query / gallery lists of :class:`ReidSample`.

Readers only *list* samples (paths, ids, cameras, optional boxes) and check them against the files
on disk; pixels are read later (:mod:`reid_follow.data.images`), so listing Market-1501 costs a
directory scan, not 30k image decodes. Problems raise :class:`DatasetError` naming the path.
"""
from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class DatasetError(ValueError):
    """A dataset folder, file name or split file that does not fit the expected layout."""


@dataclass(frozen=True)
class ReidSample:
    """One person image.

    ``box`` (x1, y1, x2, y2 float pixels) is set when the person is a crop of a larger frame
    (MOT tracklets); ``None`` means the whole image is the person. ``camid`` is 0-based.
    """

    path: Path
    pid: int
    camid: int
    box: tuple[float, float, float, float] | None = None
    frame: int = -1


Split = tuple[list[ReidSample], list[ReidSample], list[ReidSample]]


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise DatasetError(f"{what} not found: {path} (expected a folder)")
    return path


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DatasetError(f"{what} not found: {path}")
    return path


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder`` (sorted, so that readers are deterministic)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def scan_named_folder(folder: Path, pattern: re.Pattern[str], example: str,
                      drop_pids: tuple[int, ...] = ()) -> list[ReidSample]:
    """Samples from a folder whose file names carry the id and camera (Market-1501 style).

    ``pattern`` must match the whole file name with groups ``pid`` and ``cam`` (1-based camera);
    a file that does not match raises, naming it and the expected form ``example``. Ids in
    ``drop_pids`` (Market-1501's junk id -1) are left out.
    """
    require_dir(folder, "image folder")
    images = list_images(folder)
    if not images:
        raise DatasetError(f"no images in {folder}")
    samples = []
    for path in images:
        m = pattern.fullmatch(path.name)
        if m is None:
            raise DatasetError(f"unexpected file name {path} (expected names like {example!r})")
        pid, cam = int(m["pid"]), int(m["cam"])
        if cam < 1:
            raise DatasetError(f"camera numbers start at 1, got {cam} in {path}")
        if pid not in drop_pids:
            samples.append(ReidSample(path, pid, cam - 1))
    return samples


class ReidDataset(ABC):
    """Base of the dataset readers: lists samples at construction and checks they make sense.

    A dataset may be train-only (no query and gallery) or test-only (no train), never half a test.
    """

    name: ClassVar[str]

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        require_dir(self.root, f"{self.name} root")
        self.train, self.query, self.gallery = self._load()
        if not (self.train or self.query or self.gallery):
            raise DatasetError(f"{self.name} at {self.root}: no samples at all")
        if bool(self.query) != bool(self.gallery):
            empty = "query" if not self.query else "gallery"
            raise DatasetError(f"{self.name} at {self.root}: the {empty} set is empty")

    @abstractmethod
    def _load(self) -> Split:
        """(train, query, gallery) samples; subclasses raise DatasetError for layout problems."""

    @property
    def train_pids(self) -> list[int]:
        return sorted({s.pid for s in self.train})

    @property
    def num_train_pids(self) -> int:
        return len(self.train_pids)

    def train_labels(self) -> dict[int, int]:
        """Dataset id -> contiguous class index 0..num_train_pids-1 for the classifier."""
        return {pid: i for i, pid in enumerate(self.train_pids)}

    def summary(self) -> dict[str, dict[str, int]]:
        """Image, identity and camera counts per part (printed by the CLI, stored in results)."""
        out = {}
        for part in ("train", "query", "gallery"):
            samples = getattr(self, part)
            out[part] = {"images": len(samples), "ids": len({s.pid for s in samples}),
                         "cameras": len({s.camid for s in samples})}
        return out
