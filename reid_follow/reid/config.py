"""Embedder settings shared by every backend (documented fields, usable as ROS parameters)."""
from __future__ import annotations

from dataclasses import dataclass

from ..config_base import ConfigError, param


@dataclass
class EmbedderConfig:
    """How crops are batched and run; the model spec string says *which* model."""

    max_batch: int = param(32, "largest number of crops sent through the model at once (bounds memory on small GPUs)")
    flip: bool = param(False, "also embed the horizontally flipped crop and average (about 2x the cost, slightly more robust)")
    fp16: bool = param(True, "run torch models under fp16 autocast on CUDA (ignored on CPU)")
    onnx_threads: int = param(0, "onnxruntime intra-op threads (0: onnxruntime's default, all cores)")
    onnx_spinning: bool = param(False, "let onnxruntime's idle threads busy-wait for the next run: slightly lower "
                                "latency on an idle machine, but they take the cores from the tracker's own "
                                "work (numpy/BLAS, OpenCV) right after each embedding")
    warmup: bool = param(True, "run one dummy batch at construction so the first real frame is not slow")
    neck_feat: str = param("", "which side of the BN-neck a torch model returns: before | after; empty: the "
                           "model's default, as the official checkpoints are evaluated (TransReID: before, "
                           "RGA: after); an ONNX graph has it baked in at export")
    sie_camera: int = param(0, "camera index fed to a model with side information (TransReID SIE): the "
                            "robot's one camera, as numbered in the training data (0-based)")
    sie_view: int = param(0, "view index fed to a model whose SIE table has views (0-based)")
    sie_view_num: int = param(0, "views per camera in a TransReID checkpoint's SIE table, which the file cannot "
                              "tell: 0 reads the table as cameras only; e.g. 8 for a 20 x 8 camera x view table")

    def validate(self) -> None:
        if self.max_batch < 1:
            raise ConfigError(f"max_batch must be >= 1, got {self.max_batch}")
        if self.onnx_threads < 0:
            raise ConfigError(f"onnx_threads must be >= 0, got {self.onnx_threads}")
        if self.neck_feat not in ("", "before", "after"):
            raise ConfigError(f"neck_feat must be '', 'before' or 'after', got {self.neck_feat!r}")
        for name in ("sie_camera", "sie_view", "sie_view_num"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")

    def sie_labels(self, camera_num: int, view_num: int, model: str) -> tuple[int, int]:
        """(sie_camera, sie_view), checked against a model's SIE table of camera_num x view_num."""
        for what, index, count in (("sie_camera", self.sie_camera, camera_num), ("sie_view", self.sie_view, view_num)):
            if index >= max(count, 1):
                raise ValueError(f"{what}={index}, but the SIE table of {model} has {count} "
                                 f"{what.removeprefix('sie_')}s (indices are 0-based)")
        return self.sie_camera, self.sie_view

    def model_overrides(self) -> dict[str, object]:
        """``load_inference_model`` settings these parameters set (none at their defaults)."""
        out: dict[str, object] = {}
        if self.neck_feat:
            out["neck_feat"] = self.neck_feat
        if self.sie_view_num:
            out["view_num"] = self.sie_view_num
        return out
