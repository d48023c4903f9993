"""MSMT17: images under ``train/`` and ``test/`` (V2: ``mask_train_v2/``, ``mask_test_v2/``), split by list files.

Each line of ``list_{train,val,query,gallery}.txt`` is ``{pid:04d}/{pid:04d}_{index}_{cam:02d}_{...}.jpg pid``
relative to the train or test folder. The validation list holds further images of the training
identities; it stays out of training unless ``use_val`` (published results train without it).
"""
from __future__ import annotations

from pathlib import Path

from .base import DatasetError, ReidDataset, ReidSample, Split, require_dir, require_file
from .market1501 import resolve_root

FOLDERS = (("train", "test"), ("mask_train_v2", "mask_test_v2"))


def read_list(list_path: Path, image_dir: Path) -> list[ReidSample]:
    """Samples of one MSMT17 list file; every listed image must exist."""
    require_file(list_path, "MSMT17 list file")
    samples = []
    for lineno, line in enumerate(list_path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        fields = Path(parts[0]).name.split("_")
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit() or len(fields) < 3 or not fields[2].isdigit():
            raise DatasetError(f"{list_path}:{lineno}: expected '0000/0000_000_01_0303morning_0015_0.jpg 0', "
                               f"got {line!r}")
        path = image_dir / parts[0]
        if not path.is_file():
            raise DatasetError(f"{list_path}:{lineno}: listed image {path} does not exist")
        cam = int(fields[2])
        if cam < 1:
            raise DatasetError(f"{list_path}:{lineno}: camera numbers start at 1, got {cam}")
        samples.append(ReidSample(path, int(parts[1]), cam - 1))
    if not samples:
        raise DatasetError(f"{list_path} lists no images")
    return samples


class MSMT17(ReidDataset):
    name = "msmt17"

    def __init__(self, root: str | Path, use_val: bool = False) -> None:
        self.use_val = use_val
        super().__init__(root)

    def _load(self) -> Split:
        base = resolve_root(self.root, "MSMT17_V1", "list_query.txt")
        if not (base / "list_query.txt").is_file() and (self.root / "MSMT17_V2").is_dir():
            base = self.root / "MSMT17_V2"
        for train_name, test_name in FOLDERS:
            if (base / train_name).is_dir():
                break
        else:
            raise DatasetError(f"MSMT17 image folders not found in {base} (expected train/ and test/, "
                               f"or mask_train_v2/ and mask_test_v2/)")
        train_dir, test_dir = base / train_name, require_dir(base / test_name, "MSMT17 test folder")
        train = read_list(base / "list_train.txt", train_dir)
        if self.use_val:
            train += read_list(base / "list_val.txt", train_dir)
        return train, read_list(base / "list_query.txt", test_dir), read_list(base / "list_gallery.txt", test_dir)
