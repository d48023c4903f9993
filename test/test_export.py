"""ONNX export: parity with torch (fp32 <= 1e-4, batch 1 and 8), named axes, metadata, CLI, embedders."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import torch

from reid_follow.cli import main as cli_main
from reid_follow.models import build_model
from reid_follow.models.checkpoint import save_checkpoint
from reid_follow.models.export import export_onnx, parity
from reid_follow.reid import EmbedderConfig, build_embedder

torch.set_num_threads(1)


def _calibrated(model: torch.nn.Module, batches: int = 3) -> torch.nn.Module:
    """BN running statistics away from their (0, 1) defaults, so eval-mode BN is really tested."""
    torch.manual_seed(1)
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(4, 3, *model.spec.input_size) * 1.5 + 0.3)
    return model.eval()


def _assert_parity(diffs: dict, bound: float) -> None:
    """Absolute bound, and the same bound relative to the output's scale (a near-zero output
    would make any absolute bound meaningless)."""
    assert set(diffs) and all(d["max_abs_output"] > 1e-3 for d in diffs.values()), diffs
    assert all(d["max_abs_diff"] <= bound * min(1.0, d["max_abs_output"]) for d in diffs.values()), diffs


def _dims(value_info) -> list:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_vit_tiny_parity_and_graph(tmp_path: Path) -> None:
    model = _calibrated(build_model("vit_tiny_transreid", jpm=True, stride=12, camera_num=2))
    path = export_onnx(model, tmp_path / "vit.onnx", dynamic_batch=True)
    graph = onnx.load(str(path))
    assert _dims(graph.graph.input[0]) == ["batch", 3, 128, 64] and graph.graph.input[0].name == "input"
    assert _dims(graph.graph.output[0]) == ["batch", 960] and graph.graph.output[0].name == "embedding"
    meta = {p.key: p.value for p in graph.metadata_props}
    assert json.loads(meta["reid_follow.mean"]) == [0.5, 0.5, 0.5]
    _assert_parity(parity(model, path, (1, 8)), 1e-4)
    static = export_onnx(model, tmp_path / "static.onnx", dynamic_batch=False)
    assert _dims(onnx.load(str(static)).graph.input[0]) == [1, 3, 128, 64]


def test_rga_sc_parity(tmp_path: Path) -> None:
    model = _calibrated(build_model("rga_sc_r50"), batches=1)
    path = export_onnx(model, tmp_path / "rga.onnx", dynamic_batch=True)
    _assert_parity(parity(model, path, (1, 8)), 1e-4)


def test_fp16_export(tmp_path: Path) -> None:
    model = _calibrated(build_model("vit_tiny_transreid"))
    path = export_onnx(model, tmp_path / "half.onnx", fp16=True, dynamic_batch=True)
    assert onnx.load(str(path)).graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    _assert_parity(parity(model, path, (1, 4)), 2e-2)
    assert next(model.parameters()).dtype == torch.float32           # the caller's model is left in fp32


def test_cli_and_embedders_agree(tmp_path: Path, mot16_05: Path, capsys: pytest.CaptureFixture) -> None:
    """torch: and onnx: embedders of the same trained weights give the same embeddings on real
    crops, so the normalisation is applied once in both paths."""
    model = _calibrated(build_model("vit_tiny_transreid", stride=12))
    ckpt = tmp_path / "ckpt.pth"
    save_checkpoint(ckpt, model, {"stride": 12}, epoch=1)
    out = tmp_path / "exported.onnx"
    assert cli_main(["export", "--model", "vit_tiny_transreid", "--checkpoint", str(ckpt), "--out", str(out),
                     "--dynamic-batch"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["feat_dim"] == 192
    assert max(d["max_abs_diff"] for d in report["parity"].values()) <= 1e-4
    frame = cv2.imread(str(mot16_05 / "img1" / "000010.jpg"))
    boxes = np.array([[100, 120, 160, 300], [300, 100, 380, 330], [-20, 150, 60, 420]], dtype=np.float32)
    via_torch = build_embedder(f"torch:vit_tiny_transreid:{ckpt}", "cpu").embed(frame, boxes)
    via_onnx = build_embedder(f"onnx:{out}", "cpu").embed(frame, boxes)
    np.testing.assert_allclose(via_onnx, via_torch, atol=1e-4)
    assert not np.allclose(via_torch[0], via_torch[1], atol=1e-2)


def test_sie_camera_input_parity_and_embedders(tmp_path: Path, mot16_05: Path) -> None:
    """A model with SIE exports a ``camera`` input (the SIE row); parity over random rows, and
    torch: / onnx: embedders given the same sie_camera / sie_view agree, differing per camera."""
    model = _calibrated(build_model("vit_tiny_transreid", stride=12, jpm=True, camera_num=3, view_num=2))
    ckpt = tmp_path / "sie.pth"
    save_checkpoint(ckpt, model, {"stride": 12, "jpm": True, "camera_num": 3, "view_num": 2}, epoch=1)
    path = export_onnx(model, tmp_path / "sie.onnx", dynamic_batch=True)
    graph = onnx.load(str(path))
    assert [i.name for i in graph.graph.input] == ["input", "camera"] and _dims(graph.graph.input[1]) == ["batch"]
    meta = {p.key: p.value for p in graph.metadata_props}
    assert json.loads(meta["reid_follow.sie"]) == {"camera_num": 3, "view_num": 2}
    _assert_parity(parity(model, path, (1, 8)), 1e-4)
    frame = cv2.imread(str(mot16_05 / "img1" / "000010.jpg"))
    boxes = np.array([[100, 120, 160, 300], [300, 100, 380, 330]], dtype=np.float32)
    feats = {}
    for cam, view in ((0, 0), (2, 1)):
        cfg = EmbedderConfig(warmup=False, sie_camera=cam, sie_view=view)
        feats[cam] = build_embedder(f"torch:vit_tiny_transreid:{ckpt}", "cpu", cfg).embed(frame, boxes)
        via_onnx = build_embedder(f"onnx:{path}", "cpu", cfg).embed(frame, boxes)
        np.testing.assert_allclose(via_onnx, feats[cam], atol=1e-4)
    assert not np.allclose(feats[0], feats[2], atol=1e-3)
    with pytest.raises(ValueError, match="sie_view=2, but the SIE table of .* has 2 views"):
        build_embedder(f"onnx:{path}", "cpu", EmbedderConfig(warmup=False, sie_view=2))
    plain = export_onnx(_calibrated(build_model("vit_tiny_transreid")), tmp_path / "plain.onnx")
    assert [i.name for i in onnx.load(str(plain)).graph.input] == ["input"]
