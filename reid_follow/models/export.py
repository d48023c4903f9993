"""ONNX export of registry models, with the parity check that proves the graph computes the same.

Conventions (one documented place): the graph takes an already *normalised* (B, 3, H, W) RGB
float tensor named ``input`` and returns the inference embedding ``embedding`` (B, feat_dim),
not L2-normalised. Normalisation is NOT in the graph — the embedder applies the mean/std written
into the model's metadata (``reid_follow.mean`` / ``reid_follow.std``), so it happens exactly once
(fast-reid's "ONNX differs from torch" reports were normalisation applied twice). Batch is the
named axis ``batch`` when exported with ``dynamic_batch``.

A model with side information (TransReID SIE) gets a second input ``camera``: (B,) int64, the row
of its SIE table (:func:`reid_follow.models.vit.sie_row` of the camera and view index); the table's
split is in the metadata ``reid_follow.sie`` (``{"camera_num": C, "view_num": V}``) so that an
``onnx:`` embedder can compute the row from its ``sie_camera`` / ``sie_view`` parameters. ONNX has
no optional inputs: a model without SIE has only ``input``.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

INPUT_NAME, OUTPUT_NAME, BATCH_AXIS = "input", "embedding", "batch"
CAMERA_INPUT, META_SIE = "camera", "reid_follow.sie"
OPSET = 17


class SieInput(nn.Module):
    """``model(x, cam_label, view_label)`` with the SIE table row as its one label input."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, row: torch.Tensor) -> torch.Tensor:
        bb = self.model.backbone
        if bb.camera_num > 0:          # row = camera * views + view (views: 1 for a camera table)
            views = max(bb.view_num, 1)
            return self.model(x, row // views, row % views)
        return self.model(x, None, row)


def sie_meta(model: nn.Module) -> dict[str, int] | None:
    """The SIE table split of a model with side information, None without."""
    if not getattr(model, "has_sie", False):
        return None
    return {"camera_num": model.backbone.camera_num, "view_num": model.backbone.view_num}


def export_onnx(model: nn.Module, out: str | Path, fp16: bool = False, dynamic_batch: bool = True,
                opset: int = OPSET) -> Path:
    """Write ``model`` (eval mode, every submodule) to ``out``; returns the path.

    ``fp16`` exports half-precision weights and input (meant for GPU / TensorRT). The model is
    traced on the CPU and left there, in fp32.
    """
    spec = model.spec
    model = model.eval()
    still_training = [n for n, m in model.named_modules() if m.training]
    if still_training:
        raise RuntimeError(f"modules still in training mode: {still_training[:5]}")
    dtype = torch.float16 if fp16 else torch.float32
    model = model.to("cpu", dtype=dtype)                 # traced on the CPU; left there in fp32 afterwards
    batch = 2 if dynamic_batch else 1
    dummy = torch.zeros(batch, 3, *spec.input_size, dtype=dtype)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sie = sie_meta(model)
    module, args, names = model, (dummy,), [INPUT_NAME]
    if sie is not None:
        module, args, names = SieInput(model), (dummy, torch.zeros(batch, dtype=torch.long)), [INPUT_NAME, CAMERA_INPUT]
    axes = {**{n: {0: BATCH_AXIS} for n in names}, OUTPUT_NAME: {0: BATCH_AXIS}} if dynamic_batch else None
    with warnings.catch_warnings(), torch.no_grad():
        # the size checks in forward() are Python comparisons: the tracer warns they become constants,
        # which is intended (the exported graph is for the one input size the model was built for)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(module, args, str(out), dynamo=False, input_names=names,
                          output_names=[OUTPUT_NAME], dynamic_axes=axes, opset_version=opset,
                          do_constant_folding=True)
    graph = onnx.load(str(out))
    feat_axis = graph.graph.output[0].type.tensor_type.shape.dim[1]
    feat_axis.Clear()                      # the tracer leaves a symbolic name for concatenated JPM features
    feat_axis.dim_value = spec.feat_dim
    meta = {"reid_follow.model_name": spec.name, "reid_follow.mean": json.dumps(list(spec.mean)),
            "reid_follow.std": json.dumps(list(spec.std)), "reid_follow.input_size": json.dumps(list(spec.input_size)),
            "reid_follow.feat_dim": str(spec.feat_dim),
            "reid_follow.note": "input: RGB, (x/255 - mean)/std applied by the caller; output: not L2-normalised"}
    if sie is not None:
        meta[META_SIE] = json.dumps(sie)
    for key, value in meta.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(graph)
    onnx.save(graph, str(out))
    model.to(dtype=torch.float32)
    return out


def parity(model: nn.Module, onnx_path: str | Path, batch_sizes: tuple[int, ...] = (1, 8),
           seed: int = 0) -> dict[int, dict[str, float]]:
    """Per batch size: max absolute difference between torch and onnxruntime (CPU) outputs on
    random normalised inputs (and random SIE rows for a graph with a ``camera`` input), and the
    largest |output| to judge it against."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    input_type = session.get_inputs()[0].type
    dtype = np.float16 if input_type == "tensor(float16)" else np.float32
    gen = torch.Generator().manual_seed(seed)
    model = model.eval()
    sie = sie_meta(model)
    has_camera = any(i.name == CAMERA_INPUT for i in session.get_inputs())
    if has_camera != (sie is not None):
        raise ValueError(f"{onnx_path}: camera input {'present' if has_camera else 'absent'}, but the model "
                         f"{'has no' if sie is None else 'has'} SIE")
    diffs = {}
    for b in batch_sizes:
        x = torch.randn(b, 3, *model.spec.input_size, generator=gen)
        feeds = {INPUT_NAME: x.numpy().astype(dtype)}
        with torch.no_grad():
            if sie is None:
                ref = model(x).numpy()
            else:
                rows = torch.randint(0, model.backbone.sie_embed.shape[0], (b,), generator=gen)
                ref = SieInput(model)(x, rows).numpy()
                feeds[CAMERA_INPUT] = rows.numpy()
        got = session.run([OUTPUT_NAME], feeds)[0].astype(np.float32)
        if got.shape != ref.shape:
            raise ValueError(f"ONNX output shape {got.shape} != torch {ref.shape} at batch {b}")
        diffs[b] = {"max_abs_diff": float(np.abs(got - ref).max()), "max_abs_output": float(np.abs(ref).max())}
    return diffs
