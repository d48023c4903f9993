"""TransReID ViT: token grids, parameter counts, JPM/SIE behaviour, train/eval outputs."""
from __future__ import annotations

import pytest
import torch

from reid_follow.models import build_model
from reid_follow.models.common import TrainOutput
from reid_follow.models.vit import PatchEmbed, interpolate_pos_embed, shuffle_tokens

torch.set_num_threads(1)


def _official_shuffle_unit(features: torch.Tensor, shift: int, group: int, begin: int = 1) -> torch.Tensor:
    """TransReID's shuffle_unit (model/make_model.py), restated as the reference."""
    batchsize, dim = features.size(0), features.size(-1)
    x = torch.cat([features[:, begin - 1 + shift:], features[:, begin:begin - 1 + shift]], dim=1)
    try:
        x = x.view(batchsize, group, -1, dim)
    except RuntimeError:
        x = torch.cat([x, x[:, -2:-1, :]], dim=1)
        x = x.view(batchsize, group, -1, dim)
    return torch.transpose(x, 1, 2).contiguous().view(batchsize, -1, dim)


def test_patch_grid_and_param_counts() -> None:
    assert PatchEmbed((256, 128), 16, 12, 8).grid == (21, 10)
    assert PatchEmbed((256, 128), 16, 16, 8).grid == (16, 8)
    with pytest.raises(ValueError, match="stride must be in 1..patch_size=16"):
        PatchEmbed((256, 128), 16, 17, 8)
    base = build_model("vit_base_transreid", stride=12)
    assert base.backbone.pos_embed.shape == (1, 211, 768)
    assert abs(sum(p.numel() for p in base.backbone.parameters()) - 86e6) < 1e6
    small = build_model("vit_small_transreid")
    assert abs(sum(p.numel() for p in small.backbone.parameters()) - 22e6) < 0.6e6
    assert small.spec.mean == small.spec.std == (0.5, 0.5, 0.5) and small.spec.feat_dim == 384


def test_shuffle_matches_official() -> None:
    for n, shift, groups in ((50, 5, 2), (51, 5, 2), (210, 5, 2), (128, 3, 4)):
        tokens = torch.randn(2, n + 1, 6)
        assert torch.equal(shuffle_tokens(tokens, shift, groups), _official_shuffle_unit(tokens, shift, groups))


def test_outputs_jpm_and_plain() -> None:
    x = torch.randn(3, 3, 128, 64)
    plain = build_model("vit_tiny_transreid", num_classes=4)
    out = plain.train()(x)
    assert isinstance(out, TrainOutput) and len(out.logits) == len(out.feats) == 1
    jpm = build_model("vit_tiny_transreid", num_classes=4, jpm=True, stride=12)
    out = jpm.train()(x)
    assert len(out.logits) == len(out.feats) == 5
    assert all(l.shape == (3, 4) for l in out.logits) and all(f.shape == (3, 192) for f in out.feats)
    assert build_model("vit_tiny_transreid", jpm=True).train()(x).logits == [None] * 5
    with torch.no_grad():
        assert jpm.eval()(x).shape == (3, 960) and jpm.spec.feat_dim == 960
        glob = build_model("vit_tiny_transreid", jpm=True, jpm_inference="global").eval()
        assert glob(x).shape == (3, 192) and glob.spec.feat_dim == 192
    with pytest.raises(ValueError, match="jpm_inference"):
        build_model("vit_tiny_transreid", jpm=True, jpm_inference="mean")
    with pytest.raises(ValueError, match="shift_num"):
        build_model("vit_tiny_transreid", jpm=True, shift_num=100)


def test_jpm_global_branch_equals_plain_model() -> None:
    """With the JPM branches copied from the last block, the global branch is the plain ViT."""
    torch.manual_seed(0)
    plain = build_model("vit_tiny_transreid").eval()
    jpm = build_model("vit_tiny_transreid", jpm=True, jpm_inference="global").eval()
    jpm.load_state_dict(plain.state_dict(), strict=False)
    x = torch.randn(2, 3, 128, 64)
    with torch.no_grad():
        assert not torch.allclose(jpm(x), plain(x), atol=1e-3)
        jpm.copy_last_block_to_jpm()
        torch.testing.assert_close(jpm(x), plain(x), atol=1e-5, rtol=1e-5)


def test_sie_and_drop_path() -> None:
    x = torch.randn(2, 3, 128, 64)
    m = build_model("vit_tiny_transreid", camera_num=3, sie_coe=3.0).eval()
    assert m.backbone.sie_embed.shape == (3, 1, 192)
    with torch.no_grad():
        c0 = m(x, cam_label=torch.tensor([0, 0]))
        c2 = m(x, cam_label=torch.tensor([2, 2]))
        torch.testing.assert_close(m(x), c0)                  # no label = camera 0
    assert not torch.allclose(c0, c2, atol=1e-4)
    assert build_model("vit_tiny_transreid").backbone.sie_embed is None
    dp = build_model("vit_tiny_transreid", drop_path_rate=0.5)
    with torch.no_grad():
        assert not torch.allclose(dp.train()(x).feats[0], dp(x).feats[0])
        torch.testing.assert_close(dp.eval()(x), dp(x))


def test_pos_embed_interpolation_keeps_cls_and_constant_fields() -> None:
    pe = torch.randn(1, 1 + 14 * 14, 4)
    pe[:, 1:] = 0.25
    out = interpolate_pos_embed(pe, (14, 14), (21, 10))
    assert out.shape == (1, 211, 4) and torch.equal(out[:, 0], pe[:, 0])
    torch.testing.assert_close(out[:, 1:], torch.full((1, 210, 4), 0.25))
    with pytest.raises(ValueError, match="not 14x15"):
        interpolate_pos_embed(pe, (14, 15), (2, 2))


def test_neck_feat_sides() -> None:
    """'before' (default, official TransReID evaluation) is the pre-BN feature the triplet loss sees;
    'after' the BN-neck output; with JPM both are [global, local_i / k]."""
    x = torch.randn(2, 3, 128, 64)
    torch.manual_seed(0)
    model = build_model("vit_tiny_transreid", num_classes=3, jpm=True, stride=12)
    with torch.no_grad():
        train_feats = model.train()(x).feats               # also moves the BN statistics off (0, 1)
        model.eval()
        before = model(x)
        model.neck_feat = "after"
        after = model(x)
    torch.testing.assert_close(before, torch.cat([train_feats[0]] + [f / 4 for f in train_feats[1:]], dim=1))
    assert after.shape == (2, 960) and not torch.allclose(before, after, atol=1e-2)
    with pytest.raises(ValueError, match="neck_feat must be one of"):
        build_model("vit_tiny_transreid", neck_feat="middle")
