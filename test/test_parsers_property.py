"""Property-based bad-input tests: parsers raise their own clear errors or return valid data, never crash."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reid_follow.config import load_stack
from reid_follow.config_base import ConfigError
from reid_follow.mot import MotFormatError, read_mot

cell = st.one_of(st.integers(-5, 2000).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                 st.sampled_from(["", "abc", "1e309", "-", " "]))
line = st.lists(cell, min_size=0, max_size=11).map(",".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(line, max_size=8))
def test_det_txt_parser(tmp_path, lines):
    p = tmp_path / "det.txt"
    p.write_text("\n".join(lines) + "\n")
    try:
        rows = read_mot(p)
    except MotFormatError as e:
        assert "det.txt:" in str(e)
        return
    assert (rows.frame >= 1).all() and np.isfinite(rows.xywh).all() and (rows.xywh[:, 2:] > 0).all()


finite = st.floats(-1e4, 1e4)
anyf = st.floats(allow_nan=True, allow_infinity=True)


@settings(max_examples=200, deadline=None)
@given(dets=st.lists(st.tuples(anyf, anyf, anyf, anyf, anyf, st.sampled_from(["person", "car", "0", "", "PERSON"]),
                               st.booleans()), max_size=6),
       w=st.integers(1, 2000), h=st.integers(1, 2000))
def test_detection_message_parser(dets, w, h):
    pytest.importorskip("vision_msgs.msg")
    from reid_follow.ros.messages import msg_to_detections

    msg = SimpleNamespace(detections=[
        SimpleNamespace(bbox=SimpleNamespace(center=SimpleNamespace(position=SimpleNamespace(x=cx, y=cy)),
                                             size_x=bw, size_y=bh),
                        results=[SimpleNamespace(hypothesis=SimpleNamespace(class_id=cls, score=s))] if labelled else [])
        for cx, cy, bw, bh, s, cls, labelled in dets])
    boxes, scores, problems = msg_to_detections(msg, w, h)
    assert boxes.shape == (len(scores), 4) and len(scores) + len(problems) <= len(dets)
    assert np.isfinite(boxes).all() and np.isfinite(scores).all()
    assert (boxes[:, [0, 1]] >= 0).all() and (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all()
    assert (boxes[:, 2] - boxes[:, 0] >= 1).all() and (boxes[:, 3] - boxes[:, 1] >= 1).all()


yaml_value = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=6),
                       st.lists(st.floats(allow_nan=False), max_size=8))
param_names = st.sampled_from(["embedder", "device", "sync_window_s", "fx", "publish_debug_image",
                               "follow.enroll_rule", "follow.lost_after_frames", "pose.smoothing",
                               "pose.base_from_camera", "pose.person_height_m", "nonexistent"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.dictionaries(param_names, yaml_value, max_size=4))
def test_parameter_overrides(values):
    import yaml

    sets = [f"follower.{k}={yaml.safe_dump(v, default_flow_style=True).strip().removesuffix('...').strip()}"
            for k, v in values.items()]
    try:
        stack = load_stack(overrides=sets)
    except ConfigError as e:
        assert str(e)
        return
    assert 0.05 <= stack.follower.sync_window_s <= 10.0  # its declared range
    assert len(stack.follower.pose.base_from_camera) == 7
    import math

    from reid_follow.config_base import flatten

    for value in flatten(stack.follower).values():
        for v in value if isinstance(value, list) else [value]:
            assert not isinstance(v, float) or math.isfinite(v)
