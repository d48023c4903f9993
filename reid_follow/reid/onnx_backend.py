"""Any NCHW person-ReID ONNX model through onnxruntime (e.g. torchreid's OSNet exports).

The input size comes from the model's input shape; the normalisation from the model's metadata
(``reid_follow.mean`` / ``reid_follow.std``, written by ``reid-follow export``) and otherwise the
ImageNet statistics of the torchreid convention. Normalisation is never inside our exported
graphs, so it is applied exactly once, here. A graph with a ``camera`` input (a TransReID model
with SIE, see :mod:`reid_follow.models.export`) is fed the SIE row of the configured
``sie_camera`` / ``sie_view``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from ..models.export import CAMERA_INPUT, META_SIE
from ..models.vit import sie_row
from .batching import embed_crops
from .config import EmbedderConfig
from .crops import CropBuffers, crop_boxes_uint8, normalise_crops

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
META_MEAN, META_STD = "reid_follow.mean", "reid_follow.std"
_ORT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


def onnx_providers(device: str) -> list[str]:
    """Execution providers for ``auto | cpu | cuda[:i]``, best first, only those installed."""
    available = ort.get_available_providers()
    gpu = [p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider") if p in available]
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "auto":
        return gpu + ["CPUExecutionProvider"]
    if device == "cuda" or device.startswith("cuda:"):
        if not gpu:
            raise ValueError(f"device {device!r} requested but onnxruntime has no GPU provider "
                             f"(available: {available}); install onnxruntime-gpu or use 'cpu'")
        return gpu
    raise ValueError(f"unknown device {device!r}; expected 'auto', 'cpu', 'cuda' or 'cuda:<index>'")


def _channel_stats(path: Path, meta: dict[str, str], key: str, default: tuple[float, ...]) -> tuple[float, ...]:
    """Per-channel (R, G, B) normalisation from the model's metadata: a JSON list of 3 finite numbers."""
    if key not in meta:
        return default
    try:
        value = json.loads(meta[key])
    except ValueError:
        value = None
    if not isinstance(value, list) or len(value) != 3 or \
            not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        raise ValueError(f"{path}: metadata {key} must be a JSON list of 3 finite numbers (R, G, B), "
                         f"got {meta[key]!r}")
    return tuple(float(v) for v in value)


class OnnxEmbedder:
    """onnxruntime session + roi_align crops; ``dim`` from the model's output shape."""

    def __init__(self, path: str | Path, device: str = "auto", config: EmbedderConfig | None = None) -> None:
        self.config = config or EmbedderConfig()
        self.config.validate()
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {path}")
        providers = onnx_providers(device)
        options = ort.SessionOptions()
        if self.config.onnx_threads > 0:
            options.intra_op_num_threads = self.config.onnx_threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.config.onnx_spinning else "0")
        provider_options = None
        if device.startswith("cuda:"):
            index = int(device.split(":", 1)[1])
            provider_options = [{"device_id": index} if p != "CPUExecutionProvider" else {} for p in providers]
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers,
                                                provider_options=provider_options)
        except Exception as e:  # onnxruntime raises its own exception types for bad files
            raise ValueError(f"cannot load ONNX model {path}: {e}") from e
        self.path = path
        self.providers = self.session.get_providers()
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        has_camera = any(i.name == CAMERA_INPUT for i in inputs)
        inputs = [i for i in inputs if i.name != CAMERA_INPUT]
        if len(inputs) != 1 or len(outputs) < 1:
            raise ValueError(f"{path}: expected one input (N, 3, H, W) and an (N, D) output, got inputs "
                             f"{[(i.name, i.shape) for i in inputs]} and outputs {[(o.name, o.shape) for o in outputs]}")
        inp, out = inputs[0], outputs[0]
        shape = list(inp.shape)
        if len(shape) != 4 or shape[1] not in (3, "3") or not all(isinstance(s, int) and s >= 1 for s in shape[2:]) \
                or isinstance(shape[0], int) and shape[0] < 1:
            raise ValueError(f"{path}: input {inp.name!r} must be (N, 3, H, W) with fixed H and W (>= 1); "
                             f"expected (N, 3, H, W), got {tuple(shape)}")
        if inp.type not in _ORT_TYPES:
            raise ValueError(f"{path}: input {inp.name!r} has type {inp.type}; expected float32 or float16")
        if len(out.shape) != 2 or not isinstance(out.shape[1], int) or out.shape[1] < 1:
            raise ValueError(f"{path}: output {out.name!r} must be (N, D) with a fixed D; got {tuple(out.shape)}")
        self.input_name, self.output_name = inp.name, out.name
        self.input_dtype = _ORT_TYPES[inp.type]
        self.input_size = (int(shape[2]), int(shape[3]))
        self.fixed_batch = shape[0] if isinstance(shape[0], int) else None
        self.dim = int(out.shape[1])
        meta = self.session.get_modelmeta().custom_metadata_map
        self.mean = _channel_stats(path, meta, META_MEAN, IMAGENET_MEAN)
        self.std = _channel_stats(path, meta, META_STD, IMAGENET_STD)
        if not all(s > 0 for s in self.std):
            raise ValueError(f"{path}: metadata {META_STD} must be positive, got {self.std}")
        self.sie_row = self._sie_row(path, meta) if has_camera else None
        self._buffers = CropBuffers()
        if self.config.warmup:
            self._forward(torch.zeros(1, 3, *self.input_size))

    def _sie_row(self, path: Path, meta: dict[str, str]) -> int:
        """The SIE table row of the configured camera / view, checked against the graph's table."""
        try:
            sie = json.loads(meta[META_SIE])
            cameras, views = int(sie["camera_num"]), int(sie["view_num"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: a graph with a {CAMERA_INPUT!r} input needs metadata {META_SIE} "
                             f"({{\"camera_num\": C, \"view_num\": V}}), got {meta.get(META_SIE)!r}") from None
        return int(sie_row(*self.config.sie_labels(cameras, views, str(path)), cameras, views))

    def _run(self, arr: np.ndarray) -> np.ndarray:
        """The model's (N, D) float32 output for one input batch: the one place a session runs."""
        feeds = {self.input_name: arr}
        if self.sie_row is not None:
            feeds[CAMERA_INPUT] = np.full(len(arr), self.sie_row, dtype=np.int64)
        y = self.session.run([self.output_name], feeds)[0]
        return np.asarray(y, dtype=np.float32)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        arr = x.numpy().astype(self.input_dtype, copy=False)
        if self.fixed_batch is None:
            return torch.from_numpy(self._run(arr))
        parts = []   # a static-batch model: run fixed-size chunks, the last one zero-padded
        for start in range(0, len(arr), self.fixed_batch):
            chunk = arr[start:start + self.fixed_batch]
            pad = self.fixed_batch - len(chunk)
            if pad:
                chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)])
            parts.append(self._run(chunk)[:self.fixed_batch - pad])
        return torch.from_numpy(np.concatenate(parts))

    def run_normalised(self, x: np.ndarray) -> np.ndarray:
        """Raw model output for already normalised (N, 3, H, W) crops; checks the shape first."""
        x = np.asarray(x)
        if x.ndim != 4 or x.shape[1] != 3 or tuple(x.shape[2:]) != self.input_size:
            raise ValueError(f"{self.path}: input must be (N, 3, {self.input_size[0]}, {self.input_size[1]}), "
                             f"got {x.shape}")
        return self._forward(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()

    def preprocess(self, frame_bgr: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """The normalised (N, 3, H, W) float32 model input for ``boxes``; valid until this thread's next call."""
        crops = crop_boxes_uint8(frame_bgr, boxes, self.input_size, self._buffers)
        return normalise_crops(crops, self.mean, self.std, self._buffers)

    def embed(self, frame_bgr: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(N, dim) float32 L2-normalised features of ``boxes`` (xyxy pixels) in ``frame_bgr``."""
        crops = self.preprocess(frame_bgr, boxes)
        if len(crops) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return embed_crops(torch.from_numpy(crops), self._forward, self.config.max_batch, self.config.flip).numpy()
