"""YOLOX-style ONNX person detector (COCO class 0) run with onnxruntime.

Pre-processing follows YOLOX's own: BGR 0-255, aspect-preserving resize pasted top-left on a
114-grey square, no normalisation. The graph outputs raw grid offsets (strides 8, 16, 32), which
are decoded here; input size is read from the model.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from reid_follow.config import DetectorConfig
from reid_follow.detect import check_frame, nms

STRIDES = (8, 16, 32)


def ort_providers(device: str) -> list[str]:
    """onnxruntime providers for ``device`` (auto | cpu | cuda[:i]), only those available."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    wanted = ["CPUExecutionProvider"]
    if device != "cpu":
        wanted = ["TensorrtExecutionProvider", "CUDAExecutionProvider"] + wanted
    if device.startswith("cuda") and "CUDAExecutionProvider" not in available:
        raise RuntimeError(f"device {device!r} requested but onnxruntime has no CUDA provider "
                           f"(available: {available})")
    return [p for p in wanted if p in available]


class YoloxOnnxDetector:
    def __init__(self, path: str | Path, cfg: DetectorConfig) -> None:
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"detector model not found: {path}")
        self.cfg = cfg
        try:
            self.session = ort.InferenceSession(str(path), providers=ort_providers(cfg.device))
        except Exception as e:  # onnxruntime raises its own exception types
            raise ValueError(f"cannot load ONNX detector {path}: {e}") from e
        inp = self.session.get_inputs()[0]
        shape = inp.shape
        if len(shape) != 4 or not all(isinstance(s, int) for s in shape[2:]):
            raise ValueError(f"{path}: expected a fixed NCHW input, got {inp.name} {shape}")
        self.input_name, self.size = inp.name, (int(shape[2]), int(shape[3]))
        out = self.session.get_outputs()[0].shape
        h, w = self.size
        cells = sum((h // s) * (w // s) for s in STRIDES)
        if len(out) != 3 or (isinstance(out[1], int) and out[1] != cells) or (isinstance(out[2], int) and out[2] < 6):
            raise ValueError(f"{path}: output {out} is not YOLOX-style [1, {cells}, 5+classes]")
        grids, strides = [], []
        for s in STRIDES:
            gy, gx = np.meshgrid(np.arange(h // s), np.arange(w // s), indexing="ij")
            grids.append(np.stack([gx, gy], axis=-1).reshape(-1, 2))
            strides.append(np.full((grids[-1].shape[0], 1), s))
        self._grid = np.concatenate(grids).astype(np.float32)
        self._stride = np.concatenate(strides).astype(np.float32)

    def detect(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        check_frame(frame)
        h, w = self.size
        r = min(h / frame.shape[0], w / frame.shape[1])
        resized = cv2.resize(frame, (int(frame.shape[1] * r), int(frame.shape[0] * r)),
                             interpolation=cv2.INTER_LINEAR)
        canvas = np.full((h, w, 3), 114, dtype=np.uint8)
        canvas[: resized.shape[0], : resized.shape[1]] = resized
        blob = canvas.transpose(2, 0, 1)[None].astype(np.float32)
        out = self.session.run(None, {self.input_name: blob})[0][0]
        xy = (out[:, :2] + self._grid) * self._stride
        wh = np.exp(np.clip(out[:, 2:4], -10, 10)) * self._stride
        scores = (out[:, 4] * out[:, 5]).astype(np.float64)
        keep = scores >= self.cfg.score_threshold
        boxes = np.concatenate([xy - wh / 2, xy + wh / 2], axis=1)[keep].astype(np.float64) / r
        return nms(boxes, scores[keep], self.cfg.nms_iou)
