"""Which dataset to read and how: the data part of the train / eval configuration."""
from __future__ import annotations

from dataclasses import dataclass

from ..config_base import param, section
from . import DATASETS, build_dataset
from .base import DatasetError, ReidDataset
from .tracklets import TrackletConfig


@dataclass
class DataConfig:
    """Dataset selection; reader-specific options apply only to their reader."""

    dataset: str = param("mot", f"dataset reader: {' | '.join(sorted(DATASETS))}")
    root: str = param("", "dataset folder (for mot: one sequence, or a folder searched for */gt/gt.txt)")
    cuhk03_labeled: bool = param(True, "cuhk03: labeled boxes (true) or detected boxes (false)")
    msmt17_use_val: bool = param(False, "msmt17: add list_val.txt images to training")
    mot: TrackletConfig = section(TrackletConfig, "mot: how ground-truth tracks become ReID samples")

    def validate(self) -> None:
        if self.dataset not in DATASETS:
            raise DatasetError(f"unknown dataset {self.dataset!r}; valid: {sorted(DATASETS)}")

    def build(self) -> ReidDataset:
        """The dataset reader on ``root`` (an empty root is an error here, not at parse time)."""
        self.validate()
        if not self.root:
            raise DatasetError("no dataset root given (data.root / --root)")
        options = {"cuhk03": {"labeled": self.cuhk03_labeled}, "msmt17": {"use_val": self.msmt17_use_val},
                   "mot": {"config": self.mot}}.get(self.dataset, {})
        return build_dataset(self.dataset, self.root, **options)
