"""Embedder contract (shapes, norms, box policy, bad input) and identity separation on real crops."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from reid_follow.data.tracklets import TrackletConfig
from reid_follow.reid import EmbedderConfig, build_embedder
from reid_follow.reid.measure import measure

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def frame(mot16_05: Path) -> np.ndarray:
    return cv2.imread(str(mot16_05 / "img1" / "000001.jpg"))


@pytest.fixture(scope="module")
def osnet(shared_models: Path) -> Path:
    return shared_models / "osnet_x0_25_msmt17.onnx"


def _gap_onnx(path: Path, shape: list, dtype: int = TensorProto.FLOAT) -> Path:
    """A tiny ONNX 'ReID model' (global average pool -> (N, C)) with the given input shape."""
    nodes = [helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["output"], axis=1)]
    graph = helper.make_graph(nodes, "gap", [helper.make_tensor_value_info("input", dtype, shape)],
                              [helper.make_tensor_value_info("output", dtype, [shape[0], shape[1]])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


BOXES = np.array([[100, 120, 160, 300], [300, 100, 380, 330], [500, 150, 560, 320]], dtype=np.float32)


@pytest.mark.parametrize("spec", ["default", "hist", "onnx"])
def test_contract(spec: str, frame: np.ndarray, osnet: Path) -> None:
    emb = build_embedder(f"onnx:{osnet}" if spec == "onnx" else spec, "cpu")
    feats = emb.embed(frame, BOXES)
    assert feats.shape == (3, emb.dim) and feats.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(feats, axis=1), 1.0, atol=1e-5)
    assert emb.embed(frame, np.zeros((0, 4))).shape == (0, emb.dim)
    # one box alone gives the same row as in a batch
    np.testing.assert_allclose(emb.embed(frame, BOXES[1:2])[0], feats[1], atol=1e-5)
    # a box sticking out of the frame is clipped: same as the clipped box
    h, w = frame.shape[:2]
    out = np.array([[w - 60, h - 200, w + 40, h + 30]], dtype=np.float32)
    np.testing.assert_allclose(emb.embed(frame, out), emb.embed(frame, np.array([[w - 60, h - 200, w, h]])),
                               atol=1e-5)
    for bad, words in ((np.array([[w + 10, 0, w + 50, 100]]), "outside"),
                       (np.array([[50, 50, 40, 100]]), "degenerate"),
                       (np.array([[0, 0, np.nan, 10]]), "non-finite"),
                       (np.zeros((2, 3)), "shape")):
        with pytest.raises(ValueError, match=words):
            emb.embed(frame, bad)
    with pytest.raises(ValueError, match="uint8"):
        emb.embed(frame.astype(np.float32), BOXES)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        emb.embed(frame[..., 0], BOXES)


def test_spec_errors(tmp_path: Path) -> None:
    assert build_embedder("none") is None
    for spec in ("osnet", "onnx:", "torch:"):
        with pytest.raises(ValueError, match="expected 'none', 'default'"):
            build_embedder(spec)
    with pytest.raises(FileNotFoundError, match="not found"):
        build_embedder(f"onnx:{tmp_path / 'missing.onnx'}")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"not a protobuf at all")
    with pytest.raises(ValueError, match="cannot load ONNX model"):
        build_embedder(f"onnx:{corrupt}", "cpu")
    with pytest.raises(ValueError, match="unknown device"):
        build_embedder(f"onnx:{corrupt}", "tpu")


def test_onnx_incompatible_models(tmp_path: Path, frame: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"expected \(N, 3, H, W\), got \('N', 1, 64, 32\)"):
        build_embedder(f"onnx:{_gap_onnx(tmp_path / 'gray.onnx', ['N', 1, 64, 32])}", "cpu")
    with pytest.raises(ValueError, match=r"fixed H and W.*got \('N', 3, 'H', 'W'\)"):
        build_embedder(f"onnx:{_gap_onnx(tmp_path / 'dyn.onnx', ['N', 3, 'H', 'W'])}", "cpu")
    emb = build_embedder(f"onnx:{_gap_onnx(tmp_path / 'ok.onnx', ['N', 3, 64, 32])}", "cpu")
    assert emb.input_size == (64, 32) and emb.dim == 3
    with pytest.raises(ValueError, match=r"must be \(N, 3, 64, 32\), got \(2, 3, 256, 128\)"):
        emb.run_normalised(np.zeros((2, 3, 256, 128), np.float32))


def test_onnx_static_batch_and_fp16(tmp_path: Path, frame: np.ndarray) -> None:
    """A static batch of 2 is padded/chunked; an fp16 model gets fp16 input; results agree."""
    ref = build_embedder(f"onnx:{_gap_onnx(tmp_path / 'dyn.onnx', ['N', 3, 64, 32])}", "cpu").embed(frame, BOXES)
    static = build_embedder(f"onnx:{_gap_onnx(tmp_path / 'b2.onnx', [2, 3, 64, 32])}", "cpu")
    np.testing.assert_allclose(static.embed(frame, BOXES), ref, atol=1e-6)
    half = build_embedder(f"onnx:{_gap_onnx(tmp_path / 'h.onnx', ['N', 3, 64, 32], TensorProto.FLOAT16)}", "cpu")
    np.testing.assert_allclose(half.embed(frame, BOXES), ref, atol=2e-3)


def test_flip_average_is_mirror_invariant(frame: np.ndarray, osnet: Path) -> None:
    cfg = EmbedderConfig(flip=True, max_batch=4)
    emb = build_embedder(f"onnx:{osnet}", "cpu", cfg)
    w = frame.shape[1]
    mirrored = np.ascontiguousarray(frame[:, ::-1])
    mboxes = BOXES.copy()
    mboxes[:, [0, 2]] = w - BOXES[:, [2, 0]]
    plain = build_embedder(f"onnx:{osnet}", "cpu")
    # cv2 samples at 1/32 px and rounds crops to uint8, so mirrored crops are equal only to about
    # one grey level: the flip average must remove nearly all of the plain embedding's mirror change.
    flip_change = np.abs(emb.embed(frame, BOXES) - emb.embed(mirrored, mboxes)).max()
    plain_change = np.abs(plain.embed(frame, BOXES) - plain.embed(mirrored, mboxes)).max()
    assert flip_change < 5e-3 and flip_change < 0.1 * plain_change
    assert not np.allclose(plain.embed(frame, BOXES), emb.embed(frame, BOXES), atol=1e-2)


def test_osnet_separates_identities(mot16_05: Path, osnet: Path) -> None:
    """Real gt crops (pedestrian, flag 1, visibility >= 0.5): same person across time is nearer."""
    cfg = TrackletConfig(test_fraction=1.0, split="halves", min_visibility=0.5)
    r = measure(build_embedder(f"onnx:{osnet}", "cpu"), mot16_05, cfg)
    assert r["query"] > 50 and r["ids"] >= 5
    assert r["same_id_cos"] > r["diff_id_cos"] + 0.1
    assert r["auc"] > 0.8 and r["rank1"] > 0.8


def test_default_separates_identities(mot16_05: Path) -> None:
    r = measure(build_embedder("default"), mot16_05)
    assert r["same_id_cos"] > r["diff_id_cos"] + 0.1
    assert r["auc"] > 0.8 and r["rank1"] > 0.8


def test_torch_embedder(frame: np.ndarray, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from reid_follow.models import build_model
    from reid_follow.models.checkpoint import save_checkpoint

    model = build_model("vit_tiny_transreid", jpm=True)
    ckpt = tmp_path / "tiny.pth"
    save_checkpoint(ckpt, model, {"jpm": True}, epoch=0)
    emb = build_embedder(f"torch:vit_tiny_transreid:{ckpt}", "cpu")
    assert emb.dim == 960
    boxes = np.concatenate([BOXES, BOXES + 20])
    feats = emb.embed(frame, boxes)
    assert feats.shape == (6, 960) and emb.embed(frame, np.zeros((0, 4))).shape == (0, 960)
    np.testing.assert_allclose(np.linalg.norm(feats, axis=1), 1.0, atol=1e-5)
    small = build_embedder(f"torch:vit_tiny_transreid:{ckpt}", "cpu", EmbedderConfig(max_batch=4, flip=True))
    w = frame.shape[1]
    mboxes = boxes.copy()
    mboxes[:, [0, 2]] = w - boxes[:, [2, 0]]
    np.testing.assert_allclose(small.embed(frame, boxes), small.embed(np.ascontiguousarray(frame[:, ::-1]), mboxes),
                               atol=1e-4)
    with pytest.raises(ValueError, match="outside"):
        emb.embed(frame, np.array([[-50, 0, -10, 40]]))
    with caplog.at_level("WARNING"):
        assert build_embedder("torch:vit_tiny_transreid", "cpu").dim == 192
    assert "random weights" in caplog.text
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        build_embedder("torch:nope", "cpu")
    with pytest.raises(ValueError, match="CUDA is not available|unknown device"):
        build_embedder("torch:vit_tiny_transreid", "cuda:0" if not torch.cuda.is_available() else "gpu")


def test_pair_auc() -> None:
    from reid_follow.reid.measure import pair_auc

    sim = np.array([[0.9, 0.1, 0.5], [0.4, 0.8, 0.5]])
    same = np.array([[True, False, False], [False, True, False]])
    assert pair_auc(sim, same) == 1.0                    # every same pair beats every different pair
    assert pair_auc(-sim, same) == 0.0
    sim2 = np.array([[0.5, 0.5], [0.2, 0.9]])
    assert pair_auc(sim2, np.array([[True, False], [False, True]])) == 0.875  # 3 wins + 1 tie of 4
    with pytest.raises(ValueError, match="same-id and different-id"):
        pair_auc(sim, np.ones_like(same))


def test_cv2_crops_match_roi_align(frame: np.ndarray) -> None:
    """The CPU crops (cv2) sample what the GPU path (roi_align) samples, also for boxes larger than
    the crop (anti-aliased by supersampling) and boxes cut by the frame edge."""
    from reid_follow.reid.crops import crop_boxes_uint8, roi_align_crops

    h, w = frame.shape[:2]
    big = cv2.resize(frame, (3 * w, 3 * h), interpolation=cv2.INTER_LINEAR)    # people 3x taller than 256 px
    edge = np.array([[-20.5, 10.25, 70.0, 300.0], [w - 90.0, h - 250.0, w + 15.0, h + 3.0]], np.float32)
    for img, boxes, size in ((frame, BOXES, (256, 128)), (frame, edge, (256, 128)), (big, 3.3 * BOXES, (256, 128)),
                             (frame, BOXES, (128, 64))):
        ours = crop_boxes_uint8(img, boxes, size)[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32)
        ref = roi_align_crops(img, boxes, size, torch.device("cpu")).numpy()
        diff = np.abs(ours - ref)           # a plain bilinear warp of the 3x boxes differs by up to 8
        assert diff.max() <= 2.5 and diff.mean() < 0.5, (size, diff.max(), diff.mean())


def test_normalise_crops_and_buffers(frame: np.ndarray) -> None:
    """One cv2 call gives (x/255 - mean)/std per RGB channel; reused buffers give the same values."""
    from reid_follow.reid.crops import RAW, CropBuffers, crop_boxes, crop_boxes_uint8, normalise_crops

    crops = crop_boxes_uint8(frame, BOXES, (256, 128))
    mean, std = (0.1, 0.5, 0.9), (0.2, 0.3, 0.6)                     # unlike channels: catches an R/B swap
    ref = (crops[..., ::-1].astype(np.float64) / 255 - mean) / std
    np.testing.assert_allclose(normalise_crops(crops, mean, std), ref.transpose(0, 3, 1, 2), atol=1e-5)
    np.testing.assert_array_equal(normalise_crops(crops, *RAW), crops[..., ::-1].transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(crop_boxes(frame, BOXES, (256, 128), torch.device("cpu")).numpy(),
                                  crops[..., ::-1].transpose(0, 3, 1, 2))
    buffers = CropBuffers()
    first = normalise_crops(crop_boxes_uint8(frame, BOXES, (256, 128), buffers), mean, std, buffers)
    np.testing.assert_array_equal(first, normalise_crops(crops, mean, std))
    second = normalise_crops(crop_boxes_uint8(frame, BOXES[1:], (256, 128), buffers), mean, std, buffers)
    assert second.shape == (2, 3, 256, 128) and np.shares_memory(first, second)   # no new allocation
    np.testing.assert_array_equal(second, normalise_crops(crops[1:], mean, std))
    assert normalise_crops(crop_boxes_uint8(frame, np.zeros((0, 4)), (256, 128), buffers), mean, std,
                           buffers).shape == (0, 3, 256, 128)


def test_onnx_threads_do_not_spin(tmp_path: Path) -> None:
    """By default onnxruntime's idle threads block instead of busy-waiting: spinning threads took the
    cores from the follower's BLAS work after every embedding (classifier refits 25x slower)."""
    path = _gap_onnx(tmp_path / "gap.onnx", ["N", 3, 64, 32])
    key = "session.intra_op.allow_spinning"
    assert build_embedder(f"onnx:{path}", "cpu").session.get_session_options().get_session_config_entry(key) == "0"
    spinning = build_embedder(f"onnx:{path}", "cpu", EmbedderConfig(onnx_spinning=True))
    assert spinning.session.get_session_options().get_session_config_entry(key) == "1"
