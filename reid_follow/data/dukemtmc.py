"""DukeMTMC-reID: Market-1501's folder layout, names ``{pid}_c{cam}_f{frame}.jpg``, no junk ids."""
from __future__ import annotations

import re

from .base import ReidDataset, Split, scan_named_folder
from .market1501 import resolve_root

PATTERN = re.compile(r"(?P<pid>\d+)_c(?P<cam>\d)_f\d+\.jpg")


class DukeMTMCreID(ReidDataset):
    name = "dukemtmc"

    def _load(self) -> Split:
        base = resolve_root(self.root, "DukeMTMC-reID", "query")
        example = "0005_c2_f0046985.jpg"
        return tuple(scan_named_folder(base / part, PATTERN, example)  # type: ignore[return-value]
                     for part in ("bounding_box_train", "query", "bounding_box_test"))
