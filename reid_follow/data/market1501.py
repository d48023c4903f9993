"""Market-1501: ``bounding_box_train/``, ``query/``, ``bounding_box_test/``, names ``{pid}_c{cam}s{seq}_{frame}_{box}.jpg``.

Protocol: id -1 (junk boxes) is dropped everywhere; id 0 (distractors) is not a person of the
training set but stays in the gallery, where it can only ever be a wrong match.
"""
from __future__ import annotations

import re
from pathlib import Path

from .base import ReidDataset, Split, scan_named_folder

PATTERN = re.compile(r"(?P<pid>-1|\d+)_c(?P<cam>\d)s\d+_\d+_\d+\.(jpg|png)")


def resolve_root(root: Path, folder_name: str, required: str) -> Path:
    """``root`` if it holds ``required``, else ``root/folder_name`` (the unpacked archive's folder)."""
    return root if (root / required).is_dir() or not (root / folder_name).is_dir() else root / folder_name


class Market1501(ReidDataset):
    name = "market1501"

    def _load(self) -> Split:
        base = resolve_root(self.root, "Market-1501-v15.09.15", "query")
        example = "0002_c1s1_000451_03.jpg"
        train = [s for s in scan_named_folder(base / "bounding_box_train", PATTERN, example, (-1,)) if s.pid != 0]
        query = scan_named_folder(base / "query", PATTERN, example, (-1,))
        gallery = scan_named_folder(base / "bounding_box_test", PATTERN, example, (-1,))
        return train, query, gallery
