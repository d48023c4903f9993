"""The enrolled person's embeddings (bounded, diverse) and a bank of other people's (distractors)."""
from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np


class TargetGallery:
    """Up to ``max_size`` L2-normalised embeddings of the target; the first ``pinned`` never leave.

    Why pinned: the enrollment samples are the only ones known for certain to be the person; if
    every sample could be replaced, slow drift onto a neighbour could rewrite the whole gallery.
    """

    def __init__(self, max_size: int, min_distance: float, pinned: int) -> None:
        self.max_size = max_size
        self.min_distance = min_distance
        self.pinned = pinned
        self.samples: np.ndarray | None = None

    def __len__(self) -> int:
        return 0 if self.samples is None else len(self.samples)

    def add(self, embedding: np.ndarray) -> bool:
        """Keep ``embedding`` unless it nearly duplicates a sample; True when it was kept."""
        e = np.asarray(embedding, dtype=np.float32).reshape(1, -1)
        if self.samples is None:
            self.samples = e.copy()
            return True
        if e.shape[1] != self.samples.shape[1]:
            raise ValueError(f"embedding has {e.shape[1]} dims, the gallery holds {self.samples.shape[1]}")
        if 1.0 - float((self.samples @ e.T).max()) < self.min_distance:
            return False
        if len(self.samples) < self.max_size:
            self.samples = np.concatenate([self.samples, e])
            return True
        sim = self.samples @ self.samples.T
        np.fill_diagonal(sim, -np.inf)
        redundancy = sim.max(axis=1)
        redundancy[: self.pinned] = -np.inf
        self.samples[int(np.argmax(redundancy))] = e[0]
        return True

    def similarity(self, embeddings: np.ndarray) -> np.ndarray:
        """Highest cosine similarity of each embedding to the gallery (0 when empty)."""
        e = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
        if self.samples is None:
            return np.zeros(len(e))
        return (self.samples @ e.T).max(axis=0)

    @property
    def dim(self) -> int:
        return 0 if self.samples is None else self.samples.shape[1]


class DistractorBank:
    """The most recent ``max_size`` embeddings of other people (FIFO)."""

    def __init__(self, max_size: int) -> None:
        self._items: deque[np.ndarray] = deque(maxlen=max_size)
        self._array: np.ndarray | None = None      # the stacked items, rebuilt after a change

    def __len__(self) -> int:
        return len(self._items)

    def add(self, embeddings: np.ndarray) -> None:
        for e in np.atleast_2d(np.asarray(embeddings, dtype=np.float32)):
            self._items.append(e)
        self._array = None

    def array(self) -> np.ndarray | None:
        """(n, dim) of the items (read every frame by the identity score: stacked once per change)."""
        if self._array is None and self._items:
            self._array = np.stack(self._items)
        return self._array


def save_gallery(path: str | Path, gallery: TargetGallery, bank: DistractorBank) -> None:
    """Write the gallery (and distractors) to an .npz file."""
    if gallery.samples is None:
        raise ValueError("cannot save an empty gallery: no target is enrolled")
    negatives = bank.array()
    np.savez(Path(path), samples=gallery.samples, pinned=np.int64(gallery.pinned),
             distractors=negatives if negatives is not None else np.zeros((0, gallery.dim), np.float32))


def load_gallery(path: str | Path, gallery: TargetGallery, bank: DistractorBank, dim: int | None) -> None:
    """Fill ``gallery`` and ``bank`` from an .npz written by :func:`save_gallery`; checks the dimension."""
    path = Path(path)
    try:
        data = np.load(path)
        samples, pinned, negatives = data["samples"], int(data["pinned"]), data["distractors"]
    except (OSError, KeyError, ValueError) as e:
        raise ValueError(f"cannot read gallery file {path}: {e}") from e
    if samples.ndim != 2 or len(samples) == 0:
        raise ValueError(f"gallery file {path} holds no samples")
    if dim is not None and samples.shape[1] != dim:
        raise ValueError(f"gallery file {path} has {samples.shape[1]}-dim embeddings but the embedder gives "
                         f"{dim}: it was saved with another embedder")
    gallery.samples = samples[: gallery.max_size].astype(np.float32)
    gallery.pinned = min(pinned, len(gallery.samples))
    if len(negatives):
        bank.add(negatives)
