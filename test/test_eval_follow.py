"""eval-follow: scenario building, the metrics on hand-checked outputs, and a small real run."""
from __future__ import annotations

import argparse
import json

import pytest

from reid_follow.commands import eval_follow
from reid_follow.follow.evaluate import build_scenario, choose_targets, pedestrians, score_run
from reid_follow.follow.types import FollowOutput
from reid_follow.mot import read_mot


def test_scenario_hides_the_target(mot16_05) -> None:
    sc = build_scenario(mot16_05, 6, "gt", 48)
    gt = pedestrians(read_mot(mot16_05 / "gt" / "gt.txt"))
    first, last = sc.hidden
    assert last - first + 1 >= 5 and first > sc.enroll_frame
    assert not sc.present[first - 1:last].any()
    assert sc.detectable[sc.enroll_frame - 1]
    low = gt.visibility < 0.3                                      # low-visibility people have no detection
    for f in (5, 20, 40):
        boxes = sc.detections.xywh[sc.detections.frame == f]
        assert len(boxes) <= int(((gt.frame == f) & ~low).sum())
    assert 6 in choose_targets(read_mot(mot16_05 / "gt" / "gt.txt"), 48, 3, 0.3)


def test_metrics_on_known_outputs(mot16_05) -> None:
    sc = build_scenario(mot16_05, 6, "gt", 48)
    n = len(sc.present)
    outs = []
    for i in range(n):
        if not sc.present[i]:
            outs.append(FollowOutput("lost"))
        elif i == sc.enroll_frame:                                  # one frame on someone else
            outs.append(FollowOutput("tracking", sc.others[i][0].copy()))
        else:
            outs.append(FollowOutput("tracking", sc.target_boxes[i].copy()))
    m = score_run(sc, outs)
    visible = int(sc.present[sc.enroll_frame - 1:].sum())
    assert m["visible_frames"] == visible
    assert m["success"] == pytest.approx((visible - 1) / visible)
    assert m["wrong_frames"] == 1 and m["wrong_person"] == pytest.approx(1 / (visible - 1 + 1))
    assert m["absent_correct"] == 1.0 and m["latency_mean"] == 0.0
    assert m["reacquired"] == m["reappearances"] >= 1
    r = next(i for i in range(sc.hidden[1], n) if sc.present[i])  # first visible frame after the window
    assert sc.present[r:r + 3].all()
    late = list(outs)
    late[r] = late[r + 1] = FollowOutput("lost")                 # found two frames after reappearing
    assert score_run(sc, late)["latency_max"] == 2


def test_eval_follow_command(shared_data, tmp_path) -> None:
    p = argparse.ArgumentParser()
    eval_follow.add_arguments(p)
    args = p.parse_args(["--data", str(shared_data), "--sequences", "MOT16-05-first48", "--targets", "1",
                         "--sources", "gt", "--out", str(tmp_path)])
    assert eval_follow.main(args) == 0
    result = json.loads((tmp_path / "results.json").read_text())
    rows = {r["embedder"]: r for r in result["summary"]}
    assert set(rows) == {"default", "motion-only"}
    assert rows["default"]["success"] >= 0.9 and rows["default"]["wrong_person"] <= 0.02
    assert rows["default"]["success"] > rows["motion-only"]["success"] + 0.1
    assert list(tmp_path.glob("timeline-*.png")) and "| MOT16-05-first48 |" in (tmp_path / "table.md").read_text()
