"""A registry model (``reid_follow.models``) run through torch: crops, normalisation, batching.

The model's own ``spec`` gives the input size and mean/std; nothing is guessed from a file name.
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .batching import embed_crops
from .config import EmbedderConfig
from .crops import crop_boxes
from .device import resolve_device

log = logging.getLogger(__name__)


class TorchEmbedder:
    """Eval-mode model on one device; fp16 autocast on CUDA when the config allows it."""

    def __init__(self, model: nn.Module, device: str = "auto", config: EmbedderConfig | None = None) -> None:
        self.config = config or EmbedderConfig()
        self.config.validate()
        if not hasattr(model, "spec"):
            raise TypeError(f"{type(model).__name__} has no .spec (ModelSpec); build it with reid_follow.models.build_model")
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.spec = model.spec
        self.dim = int(self.spec.feat_dim)
        self.autocast = self.device.type == "cuda" and self.config.fp16
        if self.config.warmup:
            with torch.inference_mode():
                self._forward(torch.zeros(1, 3, *self.spec.input_size, device=self.device))

    @classmethod
    def from_spec(cls, name: str, checkpoint: str | Path | None, device: str = "auto",
                  config: EmbedderConfig | None = None) -> "TorchEmbedder":
        """``torch:NAME[:CHECKPOINT]``: a registry model, loaded strictly from a checkpoint if given."""
        from ..models import build_model
        from ..models.checkpoint import load_inference_model

        if checkpoint:
            model = load_inference_model(name, checkpoint)
        else:
            log.warning("torch:%s without a checkpoint: the model has random weights", name)
            model = build_model(name)
        return cls(model, device, config)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        ctx = torch.autocast("cuda", dtype=torch.float16) if self.autocast else contextlib.nullcontext()
        with ctx:
            return self.model(x)

    def embed(self, frame_bgr: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(N, dim) float32 L2-normalised features of ``boxes`` (xyxy pixels) in ``frame_bgr``."""
        with torch.inference_mode():
            crops = crop_boxes(frame_bgr, boxes, self.spec.input_size, self.device, self.spec.mean, self.spec.std)
            if crops.shape[0] == 0:
                return np.zeros((0, self.dim), dtype=np.float32)
            feats = embed_crops(crops, self._forward, self.config.max_batch, self.config.flip)
        return feats.cpu().numpy()
