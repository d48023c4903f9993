"""ONNX export of registry models, with the parity check that proves the graph computes the same.

Conventions (one documented place): the graph takes an already *normalised* (B, 3, H, W) RGB
float tensor named ``input`` and returns the inference embedding ``embedding`` (B, feat_dim),
not L2-normalised. Normalisation is NOT in the graph — the embedder applies the mean/std written
into the model's metadata (``reid_follow.mean`` / ``reid_follow.std``), so it happens exactly once
(fast-reid's "ONNX differs from torch" reports were normalisation applied twice). Batch is the
named axis ``batch`` when exported with ``dynamic_batch``.
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
OPSET = 17


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
    dummy = torch.zeros(2 if dynamic_batch else 1, 3, *spec.input_size, dtype=dtype)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    axes = {INPUT_NAME: {0: BATCH_AXIS}, OUTPUT_NAME: {0: BATCH_AXIS}} if dynamic_batch else None
    with warnings.catch_warnings(), torch.no_grad():
        # the size checks in forward() are Python comparisons: the tracer warns they become constants,
        # which is intended (the exported graph is for the one input size the model was built for)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(model, (dummy,), str(out), dynamo=False, input_names=[INPUT_NAME],
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
    random normalised inputs, and the largest |output| to judge it against."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    input_type = session.get_inputs()[0].type
    dtype = np.float16 if input_type == "tensor(float16)" else np.float32
    gen = torch.Generator().manual_seed(seed)
    model = model.eval()
    diffs = {}
    for b in batch_sizes:
        x = torch.randn(b, 3, *model.spec.input_size, generator=gen)
        with torch.no_grad():
            ref = model(x).numpy()
        got = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy().astype(dtype)})[0].astype(np.float32)
        if got.shape != ref.shape:
            raise ValueError(f"ONNX output shape {got.shape} != torch {ref.shape} at batch {b}")
        diffs[b] = {"max_abs_diff": float(np.abs(got - ref).max()), "max_abs_output": float(np.abs(ref).max())}
    return diffs
