"""ReID datasets: one reader class per dataset on a shared base, and the training transforms.

``build_dataset(name, root, **options)`` picks a reader by name; an unknown name lists the valid ones.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import DatasetError, ReidDataset, ReidSample
from .cuhk03 import CUHK03
from .dukemtmc import DukeMTMCreID
from .folder import FolderDataset
from .market1501 import Market1501
from .msmt17 import MSMT17
from .tracklets import MotTracklets, TrackletConfig

DATASETS: dict[str, type[ReidDataset]] = {
    cls.name: cls for cls in (Market1501, DukeMTMCreID, MSMT17, CUHK03, FolderDataset, MotTracklets)
}


def build_dataset(name: str, root: str | Path, **options: Any) -> ReidDataset:
    """The reader called ``name`` on ``root``; ``options`` go to its constructor."""
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; valid: {sorted(DATASETS)}")
    return DATASETS[name](root, **options)


__all__ = ["DATASETS", "build_dataset", "DatasetError", "ReidDataset", "ReidSample", "TrackletConfig",
           "CUHK03", "DukeMTMCreID", "FolderDataset", "Market1501", "MSMT17", "MotTracklets"]
