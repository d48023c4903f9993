"""A generic folder-per-identity layout for data people collect themselves.

``root/train/<identity>/*.jpg`` (optional), ``root/query/<identity>/*`` and
``root/gallery/<identity>/*``; an identity folder name is the id (numbers are kept, other names
are numbered in sorted order, the same name meaning the same person in every part). The camera
comes from a ``_c<number>`` in the file name when there is one; otherwise query images are camera 0
and gallery images camera 1, so that every gallery image of the query's identity counts as a match.
"""
from __future__ import annotations

import re
from pathlib import Path

from .base import DatasetError, ReidDataset, ReidSample, Split, list_images, require_dir

CAMERA = re.compile(r"_c(\d+)")
PARTS = ("train", "query", "gallery")


class FolderDataset(ReidDataset):
    name = "folder"

    def _identity_folders(self, part: str) -> list[Path]:
        folder = self.root / part
        if not folder.is_dir():
            return []
        ids = sorted(p for p in folder.iterdir() if p.is_dir())
        if not ids:
            raise DatasetError(f"{folder} has no identity sub-folders (expected {part}/<identity>/*.jpg)")
        return ids

    def _load(self) -> Split:
        folders = {part: self._identity_folders(part) for part in PARTS}
        if not folders["query"] and not folders["train"]:
            raise DatasetError(f"{self.root} has neither train/ nor query/ + gallery/ identity folders")
        if bool(folders["query"]) != bool(folders["gallery"]):
            missing = "gallery" if folders["query"] else "query"
            require_dir(self.root / missing, f"{missing} folder")
        names = sorted({p.name for ps in folders.values() for p in ps})
        numbered = all(n.isdigit() for n in names)
        pid_of = {n: int(n) if numbered else i + 1 for i, n in enumerate(names)}
        out: list[list[ReidSample]] = []
        for part in PARTS:
            samples = []
            for id_dir in folders[part]:
                images = list_images(id_dir)
                if not images:
                    raise DatasetError(f"identity folder {id_dir} holds no images")
                for path in images:
                    m = CAMERA.search(path.stem)
                    cam = int(m.group(1)) - 1 if m else (1 if part == "gallery" else 0)
                    samples.append(ReidSample(path, pid_of[id_dir.name], cam))
            out.append(samples)
        return out[0], out[1], out[2]
