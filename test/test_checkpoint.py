"""Strict checkpoint loading for every layout, built here from our own models (nothing downloaded)."""
from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import torch
import torchvision

from reid_follow.models import build_model
from reid_follow.models.checkpoint import (CheckpointError, detect_layout, load_inference_model, load_pretrained,
                                           load_weights, read_checkpoint, save_checkpoint)

torch.set_num_threads(1)
X = torch.randn(2, 3, 128, 64)


def _to_official(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our TransReID names -> the official repository's (written out independently of the loader)."""
    out = {}
    for k, v in state.items():
        m = re.match(r"local_necks\.(\d)\.(bn|classifier)\.(.*)", k)
        if m:
            k = f"{'bottleneck' if m.group(2) == 'bn' else 'classifier'}_{int(m.group(1)) + 1}.{m.group(3)}"
        else:
            for ours, theirs in (("backbone.", "base."), ("jpm_global.", "b1."), ("jpm_local.", "b2."),
                                 ("neck.bn.", "bottleneck."), ("neck.classifier.", "classifier.")):
                if k.startswith(ours):
                    k = theirs + k[len(ours):]
                    break
        out[k] = v
    return out


def _randomise(model: torch.nn.Module) -> torch.nn.Module:
    """Non-trivial values everywhere (BN statistics included) so a wrong copy cannot pass."""
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.rand_like(t) * 0.2 + 0.9 if t.dim() <= 1 else torch.randn_like(t) * 0.05)
    return model


def test_torchvision_resnet_into_rga(tmp_path: Path) -> None:
    ref = torchvision.models.resnet50(weights=None)
    _randomise(ref)
    path = tmp_path / "resnet50.pth"
    torch.save(ref.state_dict(), path)
    model = build_model("rga_sc_r50")
    load_pretrained(model, path)
    for k, v in ref.state_dict().items():
        if not k.startswith("fc."):
            assert torch.equal(model.backbone.state_dict()[k], v), k
    broken = {k: v for k, v in ref.state_dict().items() if k != "layer2.0.conv1.weight"}
    broken["layer3.0.conv1.weight"] = torch.zeros(3, 3)
    broken["extra.weight"] = torch.zeros(1)
    torch.save(broken, path)
    with pytest.raises(CheckpointError) as e:
        load_pretrained(model, path)
    msg = str(e.value)
    assert "missing keys (1): layer2.0.conv1.weight" in msg
    assert "unexpected keys (1): extra.weight" in msg
    assert "layer3.0.conv1.weight: checkpoint (3, 3) vs model (256, 512, 1, 1)" in msg


def test_timm_vit_into_tiny_resizes_pos_embed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    imagenet = _randomise(build_model("vit_tiny_transreid", input_size=(224, 224)))
    state = {k.removeprefix("backbone."): v for k, v in imagenet.state_dict().items() if k.startswith("backbone.")}
    state["head.weight"], state["head.bias"] = torch.zeros(1000, 192), torch.zeros(1000)
    path = tmp_path / "vit_timm.pth"
    torch.save({"state_dict": state}, path)
    assert detect_layout(read_checkpoint(path)) == "timm_vit"
    model = build_model("vit_tiny_transreid", jpm=True, stride=12, camera_num=2)
    with caplog.at_level(logging.WARNING):
        load_pretrained(model, path)
    assert "from a 14x14 grid (square ImageNet grid) to 10x5" in caplog.text
    assert torch.equal(model.backbone.blocks[2].attn.qkv.weight, state["blocks.2.attn.qkv.weight"])
    assert torch.equal(model.backbone.pos_embed[:, 0], state["pos_embed"][:, 0])
    assert torch.equal(model.jpm_local[0].mlp.fc1.weight, state["blocks.3.mlp.fc1.weight"])
    assert torch.equal(model.jpm_global[1].weight, state["norm.weight"])
    with pytest.raises(CheckpointError, match="needs a torchvision ResNet-50"):
        load_pretrained(build_model("r50_baseline"), path)


def test_official_transreid_checkpoint(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    trained = _randomise(build_model("vit_tiny_transreid", num_classes=6, jpm=True, stride=12, camera_num=2)).eval()
    official = _to_official(trained.state_dict())
    assert {"base.sie_embed", "b1.0.attn.qkv.weight", "b2.1.weight", "bottleneck_4.running_mean",
            "classifier_1.weight", "classifier.weight"} <= set(official)
    path = tmp_path / "transformer_120.pth"
    torch.save(official, path)
    model = load_inference_model("vit_tiny_transreid", path)
    assert model.backbone.stride == 12 and model.jpm and model.backbone.sie_embed.shape[0] == 2
    with torch.no_grad():
        torch.testing.assert_close(model(X), trained(X))
    # older checkpoints call the SIE table cv_embed
    official["base.cv_embed"] = official.pop("base.sie_embed")
    torch.save(official, path)
    with torch.no_grad():
        torch.testing.assert_close(load_inference_model("vit_tiny_transreid", path)(X), trained(X))
    # the stride is not in the file: a model built with another one is told which to use
    with pytest.raises(CheckpointError, match="input 128x64, stride 12, but the model was built with stride 16; "
                                              "build it with stride=12"):
        load_weights(build_model("vit_tiny_transreid", jpm=True, camera_num=2), path)
    # a checkpoint at another input size loads with a logged 2-D resize
    bigger = build_model("vit_tiny_transreid", jpm=True, stride=12, camera_num=2, input_size=(256, 128))
    with caplog.at_level(logging.WARNING):
        load_weights(bigger, path)
    assert "from a 10x5 grid (input 128x64, stride 12) to 21x10" in caplog.text
    del official["b2.0.attn.proj.bias"]
    torch.save(official, path)
    with pytest.raises(CheckpointError, match=r"missing keys \(1\): jpm_local.0.attn.proj.bias"):
        load_inference_model("vit_tiny_transreid", path)


def test_project_checkpoint_round_trip(tmp_path: Path) -> None:
    model = _randomise(build_model("vit_tiny_transreid", num_classes=9, stride=12, jpm=True)).eval()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.train()(X).feats[0].sum().backward()
    opt.step()
    model.eval()
    path = tmp_path / "run" / "epoch_3.pth"
    save_checkpoint(path, model, {"stride": 12, "jpm": True}, epoch=3, optimizer=opt)
    obj = read_checkpoint(path)
    assert obj["epoch"] == 3 and obj["num_classes"] == 9 and "optimizer" in obj
    loaded = load_inference_model("vit_tiny_transreid", path)
    assert loaded.neck.classifier is None                      # inference model: classifier dropped
    with torch.no_grad():
        torch.testing.assert_close(loaded(X), model(X))
    with pytest.raises(CheckpointError, match="holds a 'vit_tiny_transreid' model, not 'r50_baseline'"):
        load_inference_model("r50_baseline", path)
    with pytest.raises(CheckpointError, match="shape mismatches"):
        load_weights(build_model("vit_tiny_transreid", num_classes=3, stride=12, jpm=True), path)


def test_unreadable_and_unsafe_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_checkpoint(tmp_path / "nope.pth")
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt, truncated or not a torch file"):
        read_checkpoint(corrupt)
    good = tmp_path / "good.pth"
    torch.save(build_model("vit_tiny_transreid").state_dict(), good)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="corrupt, truncated"):
        read_checkpoint(truncated)
    unsafe = tmp_path / "unsafe.pth"
    torch.save({"model": {"w": torch.zeros(1)}, "where": Path("x")}, unsafe)
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):       # weights_only refuses objects
        read_checkpoint(unsafe)
    weird = tmp_path / "weird.pth"
    torch.save({"a.b": torch.zeros(1)}, weird)
    with pytest.raises(CheckpointError, match="unrecognised checkpoint layout"):
        load_inference_model("vit_tiny_transreid", weird)


def test_trainer_checkpoint_with_input_size(tmp_path: Path) -> None:
    """The trainer's files carry ``input_size`` rather than ``model_cfg``: rebuilt at that size."""
    model = _randomise(build_model("small_cnn", num_classes=5, input_size=(96, 48))).eval()
    path = tmp_path / "last.pt"
    torch.save({"model": model.state_dict(), "model_name": "small_cnn", "input_size": [96, 48], "num_classes": 5,
                "epoch": 2, "history": []}, path)
    loaded = load_inference_model("small_cnn", path)
    assert loaded.spec.input_size == (96, 48)
    x = torch.randn(2, 3, 96, 48)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
