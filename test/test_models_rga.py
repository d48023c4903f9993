"""RGA models: per-stage shapes, parameter counts from the digest's formulas, attention semantics."""
from __future__ import annotations

import pytest
import torch

from reid_follow.models import build_model, list_models
from reid_follow.models.common import TrainOutput
from reid_follow.models.rga import RGAModule

torch.set_num_threads(1)


def _nparams(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _digest_rga_params(c: int, n: int, spatial: bool, channel: bool) -> int:
    """Parameters of one RGA module computed from the digest's description (1x1 convs, no bias,
    each followed by a BN with weight and bias)."""
    def conv_bn(cin: int, cout: int) -> int:
        return cin * cout + 2 * cout

    total = 0
    for nodes, dim, on in ((n, c, spatial), (c, n, channel)):   # spatial: N nodes of C dims; channel: swapped
        if not on:
            continue
        emb, rel = dim // 8, nodes // 8
        w_in = 1 + rel
        total += 3 * conv_bn(dim, emb)                 # theta, phi, own-feature embedding
        total += conv_bn(2 * nodes, rel)               # G_in ++ G_out -> N/8
        total += conv_bn(w_in, w_in // 8) + conv_bn(w_in // 8, 1)
    return total


def test_registry() -> None:
    assert {"r50_baseline", "rga_s_r50", "rga_c_r50", "rga_sc_r50", "vit_base_transreid", "vit_small_transreid",
            "vit_tiny_transreid"} <= set(list_models())
    with pytest.raises(ValueError, match="unknown model 'rga'.*rga_sc_r50"):
        build_model("rga")


def test_stage_shapes_and_params() -> None:
    base = build_model("r50_baseline")
    assert abs(_nparams(base.backbone) - 23.5e6) < 0.1e6          # ResNet-50 without fc
    model = build_model("rga_sc_r50", num_classes=11).eval()
    assert model.spec.input_size == (256, 128) and model.spec.feat_dim == 2048
    assert model.spec.mean == (0.485, 0.456, 0.406)
    with torch.no_grad():
        stages = model.forward_stages(torch.randn(1, 3, 256, 128))
    assert [tuple(s.shape[1:]) for s in stages] == [(256, 64, 32), (512, 32, 16), (1024, 16, 8), (2048, 16, 8)]
    expected = [_digest_rga_params(c, h * w, True, True) for c, (h, w) in
                zip((256, 512, 1024, 2048), ((64, 32), (32, 16), (16, 8), (16, 8)))]
    assert [_nparams(m) for m in model.rga] == expected
    for name, s, c in (("rga_s_r50", True, False), ("rga_c_r50", False, True)):
        m = build_model(name)
        assert _nparams(m.rga[3]) == _digest_rga_params(2048, 128, s, c)


def test_outputs_train_and_eval() -> None:
    model = build_model("r50_baseline", num_classes=5)
    x = torch.randn(2, 3, 256, 128)
    out = model.train()(x)
    assert isinstance(out, TrainOutput) and out.logits[0].shape == (2, 5) and out.feats[0].shape == (2, 2048)
    assert build_model("r50_baseline").train()(x).logits == [None]
    with torch.no_grad():
        emb = model.eval()(x)
    assert emb.shape == (2, 2048)


def test_spatial_attention_is_shared_over_channels() -> None:
    """RGA-S scales every channel of a position by the same factor in (0, 1); RGA-C every position
    of a channel."""
    x = torch.rand(2, 64, 16, 8) + 0.1
    with torch.no_grad():
        ratio_s = RGAModule(64, 128, True, False).eval()(x) / x
        ratio_c = RGAModule(64, 128, False, True).eval()(x) / x
    assert torch.allclose(ratio_s, ratio_s[:, :1].expand_as(ratio_s), atol=1e-6)
    assert not torch.allclose(ratio_s, ratio_s[:, :, :1, :1].expand_as(ratio_s), atol=1e-4)
    assert torch.allclose(ratio_c, ratio_c[:, :, :1, :1].expand_as(ratio_c), atol=1e-6)
    assert ((ratio_s > 0) & (ratio_s < 1)).all() and ((ratio_c > 0) & (ratio_c < 1)).all()
    with pytest.raises(ValueError, match="built for 64 channels x 128 nodes"):
        RGAModule(64, 128)(torch.rand(1, 64, 8, 8))


def test_input_size_validation() -> None:
    with pytest.raises(ValueError, match=r"multiple of 16"):
        build_model("rga_sc_r50", input_size=(250, 128))
    with pytest.raises(ValueError, match=r"input_size \(64, 32\): stage map 8x4.*larger input size"):
        build_model("rga_s_r50", input_size=(64, 32))
    with pytest.raises(ValueError, match="input_size must be"):
        build_model("rga_sc_r50", input_size=(256,))
    model = build_model("rga_sc_r50", input_size=(384, 128)).eval()
    assert [m.in_spatial for m in model.rga] == [96 * 32, 48 * 16, 24 * 8, 24 * 8]
    with torch.no_grad():
        assert model(torch.randn(1, 3, 384, 128)).shape == (1, 2048)
    with pytest.raises(ValueError, match=r"expected input \(B, 3, 384, 128\), got \(1, 3, 256, 128\)"):
        model(torch.randn(1, 3, 256, 128))


def test_registry_import_is_light() -> None:
    """Importing the registry and the embedder factory does not pull in torch (heavy imports lazy)."""
    import subprocess
    import sys

    code = ("import sys, reid_follow.models, reid_follow.reid; "
            "assert 'torch' not in sys.modules, 'torch imported eagerly'")
    subprocess.run([sys.executable, "-c", code], check=True)
