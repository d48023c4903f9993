"""Embedder settings shared by every backend (documented fields, usable as ROS parameters)."""
from __future__ import annotations

from dataclasses import dataclass

from ..config_base import param


@dataclass
class EmbedderConfig:
    """How crops are batched and run; the model spec string says *which* model."""

    max_batch: int = param(32, "largest number of crops sent through the model at once (bounds memory on small GPUs)")
    flip: bool = param(False, "also embed the horizontally flipped crop and average (about 2x the cost, slightly more robust)")
    fp16: bool = param(True, "run torch models under fp16 autocast on CUDA (ignored on CPU)")
    onnx_threads: int = param(0, "onnxruntime intra-op threads (0: onnxruntime's default, all cores)")
    warmup: bool = param(True, "run one dummy batch at construction so the first real frame is not slow")

    def validate(self) -> None:
        if self.max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {self.max_batch}")
        if self.onnx_threads < 0:
            raise ValueError(f"onnx_threads must be >= 0, got {self.onnx_threads}")
