"""MOT tracklets as a ReID dataset: splits in time / at occlusions, filters, crops, bad input."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from reid_follow.data.base import DatasetError
from reid_follow.data.images import load_samples
from reid_follow.data.tracklets import MotTracklets, TrackletConfig
from reid_follow.eval.distance import pairwise_distance
from reid_follow.eval.metrics import cmc_map


def _write_sequence(root: Path, rows: list[tuple], frames: int, size=(120, 160)) -> Path:
    (root / "img1").mkdir(parents=True)
    (root / "gt").mkdir()
    for f in range(1, frames + 1):
        cv2.imwrite(str(root / "img1" / f"{f:06d}.jpg"), np.full((*size, 3), 10 * f % 255, np.uint8))
    (root / "gt" / "gt.txt").write_text("".join(",".join(map(str, r)) + "\n" for r in rows))
    return root


def test_halves_split_crosses_time_on_real_sequence(mot16_05: Path) -> None:
    d = MotTracklets(mot16_05, TrackletConfig(test_fraction=0.5, seed=3))
    assert d.train and d.query and d.gallery
    assert {s.camid for s in d.query} == {0} and {s.camid for s in d.gallery} == {1}
    assert not set(d.train_pids) & {s.pid for s in d.query + d.gallery}
    last_query = {}
    for s in d.query:
        last_query[s.pid] = max(last_query.get(s.pid, 0), s.frame)
    for s in d.gallery:
        assert s.frame > last_query[s.pid]
    # the visibility filter is active on MOT16 gt (it has a visibility column)
    loose = MotTracklets(mot16_05, TrackletConfig(test_fraction=0.5, seed=3, min_visibility=0.0))
    assert len(loose.train + loose.query + loose.gallery) > len(d.train + d.query + d.gallery)


def test_gap_and_sample_every(mot16_05: Path) -> None:
    full = MotTracklets(mot16_05, TrackletConfig(test_fraction=1.0))
    gapped = MotTracklets(mot16_05, TrackletConfig(test_fraction=1.0, gap_frames=5))
    assert not full.train
    for pid in {s.pid for s in gapped.query}:
        q = max(s.frame for s in gapped.query if s.pid == pid)
        g = [s.frame for s in gapped.gallery if s.pid == pid]
        if g:
            assert min(g) - q > 10
    sparse = MotTracklets(mot16_05, TrackletConfig(test_fraction=1.0, sample_every=4))
    assert len(sparse.query) + len(sparse.gallery) < (len(full.query) + len(full.gallery)) / 3


def test_crops_show_the_person(mot16_05: Path, shared_models: Path) -> None:
    """A trained ReID model (OSNet ONNX) must re-identify the crops: boxes and colours are right."""
    ort = pytest.importorskip("onnxruntime")
    d = MotTracklets(mot16_05, TrackletConfig(test_fraction=1.0, sample_every=2))
    crops = load_samples(d.query + d.gallery)
    for s, c in zip(d.query, crops):
        x1, y1, x2, y2 = s.box
        assert abs(c.shape[0] - (y2 - y1)) <= 1 and abs(c.shape[1] - (x2 - x1)) <= 1
    x = np.stack([cv2.resize(c, (128, 256)) for c in crops]).astype(np.float32) / 255
    x = ((x - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]).astype(np.float32).transpose(0, 3, 1, 2)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(shared_models / "osnet_x0_25_msmt17.onnx"), opts,
                                providers=["CPUExecutionProvider"])
    f = np.concatenate([sess.run(None, {"input": x[i:i + 32]})[0] for i in range(0, len(x), 32)])
    q, g = f[:len(d.query)], f[len(d.query):]
    cmc, m = cmc_map(pairwise_distance(q, g, "cosine"), [s.pid for s in d.query], [s.pid for s in d.gallery],
                     [s.camid for s in d.query], [s.camid for s in d.gallery])
    assert cmc[0] > 0.85 and m > 0.8, (cmc[0], m)


def test_segments_split_at_occlusion(tmp_path: Path) -> None:
    # id 1 visible in frames 1-5 and 13-18 (occluded 6-12); id 2 visible in frames 1-18 throughout
    rows = [(f, 1, 10, 10, 30, 80, 1, 1, 1.0) for f in range(1, 19)]
    rows = [r if not 6 <= r[0] <= 12 else (*r[:8], 0.1) for r in rows]
    rows += [(f, 2, 60, 20, 30, 80, 1, 1, 1.0) for f in range(1, 19)]
    rows += [(f, 3, 90, 20, 30, 80, 0, 1, 1.0) for f in range(1, 19)]   # flag 0: ignored
    rows += [(f, 4, 90, 20, 30, 20, 1, 1, 1.0) for f in range(1, 19)]   # too short
    seq = _write_sequence(tmp_path / "SEQ-01", rows, frames=18)
    d = MotTracklets(seq, TrackletConfig(split="segments", segment_gap=3, test_fraction=1.0, min_height=40))
    assert {s.pid for s in d.query + d.gallery} == {1, 2}
    occluded = [s for s in d.gallery if s.pid == 1]
    assert [s.frame for s in occluded] == list(range(13, 19))
    assert not [s for s in d.gallery if s.pid == 2]         # never occluded: no second segment
    assert [s.frame for s in d.query if s.pid == 1] == [1, 2, 3, 4, 5]
    # boxes are clipped to the frame
    rows2 = [(f, 1, -20, 50, 60, 100, 1, 1, 1.0) for f in range(1, 5)]
    clipped = MotTracklets(_write_sequence(tmp_path / "SEQ-02", rows2, frames=4), TrackletConfig(test_fraction=1.0))
    assert all(s.box[0] == 0.0 and s.box[3] == 120.0 for s in clipped.query + clipped.gallery)


def test_bad_sequences_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="mot root not found"):
        MotTracklets(tmp_path / "missing")
    with pytest.raises(DatasetError, match="no MOTChallenge sequence"):
        MotTracklets(tmp_path)
    seq = _write_sequence(tmp_path / "SEQ", [(f, 1, 10, 10, 30, 80, 1, 1, 1.0) for f in range(1, 6)], frames=3)
    with pytest.raises(DatasetError, match=r"gt\.txt refers to frames without an image.*\[4, 5\]"):
        MotTracklets(seq)
    (seq / "gt" / "gt.txt").write_text("1,1,10,10\n")
    with pytest.raises(DatasetError, match=r"gt\.txt:1: expected at least 6 columns"):
        MotTracklets(seq)
    (seq / "gt" / "gt.txt").write_text("1,1,10,10,30,80,1,1,1\n")
    cv2.imwrite(str(seq / "img1" / "frame_a.jpg"), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(DatasetError, match="unexpected frame name .*frame_a.jpg"):
        MotTracklets(seq)
    with pytest.raises(ValueError, match="split must be one of"):
        MotTracklets(seq, TrackletConfig(split="thirds"))
