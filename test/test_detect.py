"""Person detectors on real footage (MOT16-05 frames with ground truth)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from reid_follow.config import ConfigError, DetectorConfig
from reid_follow.detect import build_detector
from reid_follow.follow.follower import iou_matrix
from reid_follow.mot import read_mot, xywh_to_xyxy
from reid_follow.video import FrameSource


def recall_on(seq, detector, frames=range(1, 49, 6), min_height=100):
    """Fraction of visible (>= 0.5), tall pedestrians that a detection covers with IoU >= 0.5."""
    gt = read_mot(seq / "gt" / "gt.txt")
    hits = total = 0
    images = list(itertools.islice(FrameSource(seq), 48))
    for fr in frames:
        g = gt.at(fr)
        keep = (g.cls == 1) & (g.score == 1) & (g.visibility >= 0.5) & (g.xywh[:, 3] >= min_height)
        boxes, scores = detector.detect(images[fr - 1])
        assert boxes.shape == (len(scores), 4) and np.all(np.isfinite(boxes))
        if keep.any() and len(boxes):
            hits += int((iou_matrix(xywh_to_xyxy(g.xywh[keep]), boxes).max(1) >= 0.5).sum())
        total += int(keep.sum())
    return hits / max(total, 1), total


def test_hog_finds_people_without_any_model_file(mot16_05):
    recall, total = recall_on(mot16_05, build_detector(DetectorConfig(resize_width=960)))
    assert total >= 10
    assert recall >= 0.3  # HOG is the no-download fallback; measured 0.50 here


def _false_detections(seq, detector, frames=range(1, 49, 6)) -> int:
    """Detections that cover no annotated pedestrian (IoU < 0.4 with every gt box)."""
    gt = read_mot(seq / "gt" / "gt.txt")
    images = list(itertools.islice(FrameSource(seq), 48))
    false = 0
    for fr in frames:
        g = gt.at(fr)
        people = xywh_to_xyxy(g.xywh[(g.cls == 1) & (g.score == 1)])
        boxes, _ = detector.detect(images[fr - 1])
        if len(boxes):
            false += int((iou_matrix(boxes, people).max(1) < 0.4).sum()) if len(people) else len(boxes)
    return false


def test_hog_margin_drops_false_detections_not_people(mot16_05):
    loose = build_detector(DetectorConfig(resize_width=960, hog_min_margin=0.0))
    default = build_detector(DetectorConfig(resize_width=960))
    assert _false_detections(mot16_05, default) < _false_detections(mot16_05, loose)
    assert recall_on(mot16_05, default)[0] >= recall_on(mot16_05, loose)[0] - 0.1


def test_yolox_onnx_detector(mot16_05, shared_models):
    det = build_detector(DetectorConfig(detector_model=f"onnx:{shared_models / 'yolox_nano.onnx'}"))
    assert det.size == (416, 416)  # read from the model
    recall, _ = recall_on(mot16_05, det)
    assert recall >= 0.8  # measured 1.0 on tall visible people


def test_detector_bad_input(tmp_path, shared_models):
    det = build_detector(DetectorConfig())
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        det.detect(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="too small"):
        det.detect(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ConfigError, match="detector_model"):
        build_detector(DetectorConfig(detector_model="yolo"))
    with pytest.raises(FileNotFoundError, match="not found"):
        build_detector(DetectorConfig(detector_model=f"onnx:{tmp_path / 'missing.onnx'}"))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="cannot load ONNX detector"):
        build_detector(DetectorConfig(detector_model=f"onnx:{junk}"))
    reid = shared_models / "osnet_x0_25_msmt17.onnx"  # an ONNX model of the wrong kind
    with pytest.raises(ValueError, match="YOLOX|fixed NCHW"):
        build_detector(DetectorConfig(detector_model=f"onnx:{reid}"))
