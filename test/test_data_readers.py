"""Dataset readers on tiny folders built in each dataset's real naming scheme."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.io import savemat

from reid_follow.data import DATASETS, DatasetError, build_dataset
from reid_follow.data.images import load_sample


def _touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, n in enumerate(names):
        cv2.imwrite(str(folder / n), np.full((16, 8, 3), 20 * i % 255, np.uint8))


def _pids_cams(samples) -> list[tuple[int, int]]:
    return sorted((s.pid, s.camid) for s in samples)


def test_market1501_protocol(tmp_path: Path) -> None:
    root = tmp_path / "Market-1501-v15.09.15"
    _touch(root / "bounding_box_train", "0002_c1s1_000451_03.jpg", "0002_c2s1_000301_01.jpg", "0007_c3s3_015265_04.jpg")
    _touch(root / "query", "0002_c1s1_001051_00.jpg", "0007_c6s1_000076_00.jpg")
    _touch(root / "bounding_box_test", "0002_c3s1_000551_01.jpg", "0007_c2s1_000301_02.jpg",
           "0000_c1s1_000151_01.jpg", "-1_c1s1_000401_03.jpg")
    (root / "bounding_box_test" / "Thumbs.db").write_bytes(b"x")   # shipped in some copies; not an image
    d = build_dataset("market1501", tmp_path)                        # the archive's folder is found
    assert _pids_cams(d.train) == [(2, 0), (2, 1), (7, 2)]
    assert _pids_cams(d.query) == [(2, 0), (7, 5)]
    assert _pids_cams(d.gallery) == [(0, 0), (2, 2), (7, 1)]        # junk -1 dropped, distractor 0 kept
    assert d.train_labels() == {2: 0, 7: 1} and d.num_train_pids == 2
    assert load_sample(d.query[0]).shape == (16, 8, 3)
    _touch(root / "query", "person2_cam1.jpg")
    with pytest.raises(DatasetError, match=r"unexpected file name .*query/person2_cam1\.jpg"):
        build_dataset("market1501", root)


def test_market1501_missing_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="market1501 root not found"):
        build_dataset("market1501", tmp_path / "nope")
    _touch(tmp_path / "query", "0002_c1s1_001051_00.jpg")
    with pytest.raises(DatasetError, match=r"image folder not found: .*bounding_box_train"):
        build_dataset("market1501", tmp_path)
    (tmp_path / "bounding_box_train").mkdir()
    with pytest.raises(DatasetError, match=r"no images in .*bounding_box_train"):
        build_dataset("market1501", tmp_path)
    with pytest.raises(DatasetError, match=r"unknown dataset 'market'; valid: \["):
        build_dataset("market", tmp_path)


def test_dukemtmc(tmp_path: Path) -> None:
    root = tmp_path / "DukeMTMC-reID"
    _touch(root / "bounding_box_train", "0001_c2_f0046182.jpg", "0001_c5_f0051341.jpg")
    _touch(root / "query", "0005_c2_f0046985.jpg")
    _touch(root / "bounding_box_test", "0005_c5_f0051781.jpg", "0019_c1_f0057195.jpg")
    d = build_dataset("dukemtmc", root)
    assert _pids_cams(d.train) == [(1, 1), (1, 4)]
    assert _pids_cams(d.gallery) == [(5, 4), (19, 0)]
    _touch(root / "bounding_box_test", "0019_c1_0057195.jpg")
    with pytest.raises(DatasetError, match=r"0019_c1_0057195\.jpg"):
        build_dataset("dukemtmc", root)


def test_msmt17_lists(tmp_path: Path) -> None:
    root = tmp_path / "MSMT17_V1"
    _touch(root / "train" / "0000", "0000_000_01_0303morning_0015_0.jpg", "0000_001_07_0303morning_0035_1.jpg")
    _touch(root / "train" / "0001", "0001_000_15_0303noon_0190_0.jpg")
    _touch(root / "test" / "0000", "0000_000_01_0303morning_1007_0.jpg", "0000_004_12_0303afternoon_0458_1.jpg")
    (root / "list_train.txt").write_text("0000/0000_000_01_0303morning_0015_0.jpg 0\n"
                                         "0000/0000_001_07_0303morning_0035_1.jpg 0\n")
    (root / "list_val.txt").write_text("0001/0001_000_15_0303noon_0190_0.jpg 1\n")
    (root / "list_query.txt").write_text("0000/0000_000_01_0303morning_1007_0.jpg 0\n")
    (root / "list_gallery.txt").write_text("0000/0000_004_12_0303afternoon_0458_1.jpg 0\n")
    d = build_dataset("msmt17", tmp_path)
    assert _pids_cams(d.train) == [(0, 0), (0, 6)]
    assert _pids_cams(d.query) == [(0, 0)] and _pids_cams(d.gallery) == [(0, 11)]
    assert _pids_cams(build_dataset("msmt17", root, use_val=True).train) == [(0, 0), (0, 6), (1, 14)]
    (root / "list_gallery.txt").write_text("0000/0000_009_12_0303afternoon_0458_1.jpg 0\n")
    with pytest.raises(DatasetError, match=r"list_gallery\.txt:1: listed image .*0000_009_12.* does not exist"):
        build_dataset("msmt17", root)
    (root / "list_gallery.txt").write_text("0000/0000_004_12_0303afternoon_0458_1.jpg\n")
    with pytest.raises(DatasetError, match=r"list_gallery\.txt:1: expected"):
        build_dataset("msmt17", root)


def _cuhk03_mat(path: Path, names: list[str], labels: list[int], train, query, gallery) -> None:
    cell = np.empty((len(names), 1), dtype=object)
    for i, n in enumerate(names):
        cell[i, 0] = n
    savemat(str(path), {"filelist": cell, "labels": np.array(labels, float).reshape(-1, 1),
                        "camId": np.array([int(n.split("_")[2]) for n in names], float).reshape(-1, 1),
                        "train_idx": np.array(train, float).reshape(-1, 1),
                        "query_idx": np.array(query, float).reshape(-1, 1),
                        "gallery_idx": np.array(gallery, float).reshape(-1, 1)})


def test_cuhk03_new_protocol_mat(tmp_path: Path) -> None:
    names = ["1_001_1_01.png", "1_001_2_06.png", "1_002_1_01.png", "1_002_2_07.png", "3_010_1_02.png"]
    _touch(tmp_path / "images_labeled", *names)
    _cuhk03_mat(tmp_path / "cuhk03_new_protocol_config_labeled.mat", names, [1, 1, 2, 2, 10],
                train=[1, 2], query=[3], gallery=[4, 5])
    d = build_dataset("cuhk03", tmp_path)
    assert _pids_cams(d.train) == [(1, 0), (1, 1)]
    assert _pids_cams(d.query) == [(2, 0)] and _pids_cams(d.gallery) == [(2, 1), (10, 0)]
    assert d.gallery[1].path.name == "3_010_1_02.png"
    with pytest.raises(DatasetError, match="CUHK03 \\(detected\\) not found"):
        build_dataset("cuhk03", tmp_path, labeled=False)
    (tmp_path / "images_labeled" / "3_010_1_02.png").unlink()
    with pytest.raises(DatasetError, match=r"lists '3_010_1_02\.png', but .*images_labeled/3_010_1_02\.png does not exist"):
        build_dataset("cuhk03", tmp_path)
    _cuhk03_mat(tmp_path / "cuhk03_new_protocol_config_labeled.mat", names[:4], [1, 1, 2, 2],
                train=[1, 2], query=[3], gallery=[4, 5])
    with pytest.raises(DatasetError, match=r"gallery_idx has indices outside 1\.\.4"):
        build_dataset("cuhk03", tmp_path)


def test_cuhk03_np_folder_layout(tmp_path: Path) -> None:
    base = tmp_path / "cuhk03-np" / "detected"
    _touch(base / "bounding_box_train", "0001_c1_1.png", "0001_c2_6.png")
    _touch(base / "query", "0003_c1_1.png")
    _touch(base / "bounding_box_test", "0003_c2_7.png")
    d = build_dataset("cuhk03", tmp_path, labeled=False)
    assert _pids_cams(d.train) == [(1, 0), (1, 1)] and _pids_cams(d.gallery) == [(3, 1)]


def test_folder_per_identity(tmp_path: Path) -> None:
    _touch(tmp_path / "train" / "alice", "a1.jpg", "a2.jpg")
    _touch(tmp_path / "query" / "bob", "b1_c3.jpg")
    _touch(tmp_path / "gallery" / "bob", "b2.jpg")
    _touch(tmp_path / "gallery" / "carol", "c1.jpg")
    d = build_dataset("folder", tmp_path)
    assert _pids_cams(d.train) == [(1, 0), (1, 0)]
    assert _pids_cams(d.query) == [(2, 2)]                   # camera from _c3
    assert _pids_cams(d.gallery) == [(2, 1), (3, 1)]          # no camera in the name: gallery = 1
    (tmp_path / "gallery" / "dave").mkdir()
    with pytest.raises(DatasetError, match=r"identity folder .*gallery/dave holds no images"):
        build_dataset("folder", tmp_path)


def test_every_reader_is_registered() -> None:
    assert sorted(DATASETS) == ["cuhk03", "dukemtmc", "folder", "market1501", "mot", "msmt17"]
