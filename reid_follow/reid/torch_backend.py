"""A registry model (``reid_follow.models``) run through torch: crops, normalisation, batching.

The model's own ``spec`` gives the input size and mean/std; nothing is guessed from a file name.
A model with side information (TransReID SIE) is fed the configured camera / view index on every
crop: a robot has one camera, so it is a parameter, not a per-crop label.
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
from .crops import CropBuffers, crop_boxes
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
        self.sie = self._sie_labels(model)
        self.autocast = self.device.type == "cuda" and self.config.fp16
        self._buffers = CropBuffers()
        if self.config.warmup:
            with torch.inference_mode():
                self._forward(torch.zeros(1, 3, *self.spec.input_size, device=self.device))

    @classmethod
    def from_spec(cls, name: str, checkpoint: str | Path | None, device: str = "auto",
                  config: EmbedderConfig | None = None) -> "TorchEmbedder":
        """``torch:NAME[:CHECKPOINT]``: a registry model, loaded strictly from a checkpoint if given."""
        from ..models import build_model
        from ..models.checkpoint import load_inference_model

        config = config or EmbedderConfig()
        config.validate()
        overrides = config.model_overrides()
        if checkpoint:
            model = load_inference_model(name, checkpoint, **overrides)
        else:
            log.warning("torch:%s without a checkpoint: the model has random weights", name)
            model = build_model(name, **overrides)
        return cls(model, device, config)

    def _sie_labels(self, model: nn.Module) -> tuple[int, int] | None:
        """(camera, view) labels for a model with SIE, checked against its table; None without SIE."""
        c = self.config
        if not getattr(model, "has_sie", False):
            if c.sie_camera or c.sie_view:
                log.warning("%s has no side information embedding: sie_camera / sie_view are ignored", model.spec.name)
            return None
        return c.sie_labels(model.backbone.camera_num, model.backbone.view_num, model.spec.name)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        ctx = torch.autocast("cuda", dtype=torch.float16) if self.autocast else contextlib.nullcontext()
        with ctx:
            if self.sie is None:
                return self.model(x)
            labels = [torch.full((x.shape[0],), i, dtype=torch.long, device=x.device) for i in self.sie]
            return self.model(x, *labels)

    def run_normalised(self, x: np.ndarray) -> np.ndarray:
        """Raw model output (not L2-normalised) for already normalised (N, 3, H, W) crops, as
        :meth:`OnnxEmbedder.run_normalised <reid_follow.reid.onnx_backend.OnnxEmbedder.run_normalised>`."""
        with torch.inference_mode():
            x = torch.as_tensor(np.asarray(x, dtype=np.float32), device=self.device)
            return self._forward(x).float().cpu().numpy()

    def embed(self, frame_bgr: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(N, dim) float32 L2-normalised features of ``boxes`` (xyxy pixels) in ``frame_bgr``."""
        with torch.inference_mode():
            crops = crop_boxes(frame_bgr, boxes, self.spec.input_size, self.device, self.spec.mean, self.spec.std,
                               self._buffers)
            if crops.shape[0] == 0:
                return np.zeros((0, self.dim), dtype=np.float32)
            feats = embed_crops(crops, self._forward, self.config.max_batch, self.config.flip)
        return feats.cpu().numpy()
