"""Appearance embeddings of person boxes: ``build_embedder(spec)`` -> frame + boxes -> (N, D).

Specs:
  ``none``                          no embedder (motion-only tracking): returns None
  ``default``                       the embedded LOMO-style colour + texture descriptor (no weights, no download)
  ``hist``                          the previous default, colour histograms over stripes (kept for comparison)
  ``onnx:/path/model.onnx``         any NCHW person-ReID ONNX model through onnxruntime
  ``torch:NAME[:CHECKPOINT]``       a ``reid_follow.models`` registry model through torch

Every embedder has ``dim`` and ``embed(frame_bgr, boxes_xyxy) -> (N, dim)`` float32 rows with unit
L2 norm. Boxes partly outside the frame are clipped; boxes with no pixel inside it, degenerate or
non-finite boxes raise ValueError (see :mod:`reid_follow.reid.boxes`).
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from .config import EmbedderConfig


@runtime_checkable
class Embedder(Protocol):
    """What the tracker and follower need from an appearance model."""

    dim: int

    def embed(self, frame_bgr: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(N, dim) float32 L2-normalised rows for (N, 4) xyxy pixel boxes of a BGR uint8 frame."""
        ...


SPEC_FORMS = "'none', 'default', 'hist', 'onnx:/path/model.onnx' or 'torch:MODEL_NAME[:CHECKPOINT_PATH]'"


def build_embedder(spec: str, device: str = "auto", config: EmbedderConfig | None = None) -> Embedder | None:
    """The embedder a spec string names (see the module docstring); heavy backends load lazily.

    ``device`` is ``auto | cpu | cuda | cuda:i``; the hand-crafted descriptors always run on the CPU.
    """
    kind, _, rest = spec.partition(":")
    if spec == "none":
        return None
    if spec == "default":
        from .lomo import LomoEmbedder
        return LomoEmbedder()
    if spec == "hist":
        from .hist import HistogramEmbedder
        return HistogramEmbedder()
    if kind == "onnx" and rest:
        from .onnx_backend import OnnxEmbedder
        return OnnxEmbedder(rest, device, config)
    if kind == "torch" and rest:
        from .torch_backend import TorchEmbedder
        name, _, checkpoint = rest.partition(":")
        return TorchEmbedder.from_spec(name, checkpoint or None, device, config)
    raise ValueError(f"unknown embedder spec {spec!r}; expected {SPEC_FORMS}")


__all__ = ["Embedder", "EmbedderConfig", "build_embedder", "SPEC_FORMS"]
