"""CUHK03, new protocol (767 training / 700 test identities), labeled or detected boxes.

Two layouts are accepted:

* the ready-made one: ``images_labeled/`` (or ``images_detected/``) with images named
  ``{camera_pair}_{pid:03d}_{view}_{img:02d}.png`` and the split file
  ``cuhk03_new_protocol_config_labeled.mat`` (or ``..._detected.mat``) beside it, whose fields
  ``filelist``, ``labels``, ``train_idx``, ``query_idx``, ``gallery_idx`` (1-based) define the split;
  the camera is the ``view`` (1 or 2) of the name;
* the common folder layout (CUHK03-NP): ``labeled/`` or ``detected/`` holding Market-1501-style
  ``bounding_box_train/``, ``query/``, ``bounding_box_test/`` with names ``{pid}_c{cam}_{...}.png``.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from scipy.io import loadmat

from .base import DatasetError, ReidDataset, ReidSample, Split, require_dir, scan_named_folder

NAME = re.compile(r"(?P<pair>[1-5])_(?P<pid>\d{3})_(?P<view>[12])_(?P<img>\d{2})\.png")
NP_NAME = re.compile(r"(?P<pid>\d+)_c(?P<cam>\d+)_.+\.(png|jpg)")
SPLIT_FIELDS = ("filelist", "labels", "train_idx", "query_idx", "gallery_idx")


def _cell_str(x: object) -> str:
    """A MATLAB cell entry as loadmat returns it (nested object / string arrays) -> str."""
    while isinstance(x, np.ndarray):
        if x.size != 1:
            raise ValueError(f"expected one string, got an array of shape {x.shape}")
        x = x.reshape(-1)[0]
    return str(x)


def read_new_protocol(mat_path: Path, image_dir: Path) -> Split:
    """Split of the .mat route; every listed file must exist and match the naming scheme."""
    try:
        mat = loadmat(str(mat_path))
    except (OSError, ValueError) as e:
        raise DatasetError(f"cannot read CUHK03 split file {mat_path}: {e}") from e
    missing = [f for f in SPLIT_FIELDS if f not in mat]
    if missing:
        raise DatasetError(f"CUHK03 split file {mat_path} lacks fields {missing}")
    names = [_cell_str(x) for x in mat["filelist"].reshape(-1)]
    labels = np.asarray(mat["labels"]).reshape(-1).astype(int)
    if len(labels) != len(names):
        raise DatasetError(f"{mat_path}: {len(names)} file names but {len(labels)} labels")
    samples = []
    for name, pid in zip(names, labels):
        m = NAME.fullmatch(name)
        if m is None:
            raise DatasetError(f"{mat_path} lists {name!r}, which does not follow "
                               f"'{{pair}}_{{pid:03d}}_{{view}}_{{img:02d}}.png'")
        path = image_dir / name
        if not path.is_file():
            raise DatasetError(f"{mat_path} lists {name!r}, but {path} does not exist")
        samples.append(ReidSample(path, int(pid), int(m["view"]) - 1))
    parts = []
    for field in ("train_idx", "query_idx", "gallery_idx"):
        idx = np.asarray(mat[field]).reshape(-1).astype(int) - 1
        if idx.size and (idx.min() < 0 or idx.max() >= len(samples)):
            raise DatasetError(f"{mat_path}: {field} has indices outside 1..{len(samples)}")
        parts.append([samples[i] for i in idx])
    return parts[0], parts[1], parts[2]


class CUHK03(ReidDataset):
    name = "cuhk03"

    def __init__(self, root: str | Path, labeled: bool = True) -> None:
        self.kind = "labeled" if labeled else "detected"
        super().__init__(root)

    def _load(self) -> Split:
        mat_path = self.root / f"cuhk03_new_protocol_config_{self.kind}.mat"
        if mat_path.is_file():
            image_dir = require_dir(self.root / f"images_{self.kind}", "CUHK03 image folder")
            return read_new_protocol(mat_path, image_dir)
        for base in (self.root / self.kind, self.root / "cuhk03-np" / self.kind):
            if base.is_dir():
                example = "0001_c1_1.png"
                return tuple(scan_named_folder(base / part, NP_NAME, example)  # type: ignore[return-value]
                             for part in ("bounding_box_train", "query", "bounding_box_test"))
        raise DatasetError(f"CUHK03 ({self.kind}) not found in {self.root}: expected {mat_path.name} with "
                           f"images_{self.kind}/, or the folder layout {self.kind}/bounding_box_train ...")
