"""``reid-follow follow-video`` end to end on MOT16-05 (given detections), and its bad-input errors."""
from __future__ import annotations

import argparse
import csv

import cv2
import numpy as np
import pytest

from reid_follow.commands import follow_video
from reid_follow.follow.evaluate import pedestrians
from reid_follow.follow.offline import EnrollmentError, parse_enroll
from reid_follow.mot import MotFormatError, read_mot


def _args(**kw) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    follow_video.add_arguments(p)
    argv = []
    for k, v in kw.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    return p.parse_args(argv)


@pytest.fixture()
def gt_detections(mot16_05, tmp_path):
    """det.txt made of MOT16-05's visible pedestrian gt boxes (ids replaced by -1)."""
    gt = pedestrians(read_mot(mot16_05 / "gt" / "gt.txt"))
    keep = gt.visibility >= 0.3
    path = tmp_path / "det.txt"
    rows = [f"{f},-1,{x:.1f},{y:.1f},{w:.1f},{h:.1f},1" for f, (x, y, w, h) in zip(gt.frame[keep], gt.xywh[keep])]
    rows.reverse()                                               # out of order: the reader sorts by frame
    path.write_text("\n".join(rows) + "\n")
    box = gt.xywh[(gt.ids == 6) & (gt.frame == 10)][0]
    return path, f"10:{box[0]:.0f},{box[1]:.0f},{box[2]:.0f},{box[3]:.0f}", box


def test_follow_video_writes_one_row_per_frame(mot16_05, gt_detections, tmp_path) -> None:
    det, enroll, box = gt_detections
    out, video = tmp_path / "track.csv", tmp_path / "annotated.mp4"
    rc = follow_video.main(_args(input=mot16_05, detections=det, enroll=enroll, output=out, video_out=video))
    assert rc == 0
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["frame", "x", "y", "w", "h", "score"]
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 49))
    assert all(r[1:] == [""] * 5 for r in rows[1:10])           # before enrollment: no target
    x, y, w, h = (float(v) for v in rows[10][1:5])
    assert np.allclose([x, y, w, h], box, atol=1.0)               # enrollment frame reports the person
    assert sum(r[1] != "" for r in rows[1:]) >= 10
    cap = cv2.VideoCapture(str(video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 48
    cap.release()


def test_follow_video_enrolls_a_box_no_detection_matches(mot16_05, gt_detections, tmp_path) -> None:
    """The detector missed the person in the enrollment frame: the box itself is taken."""
    det, _, box = gt_detections
    rows = [r for r in det.read_text().splitlines() if not r.startswith("10,")]
    missed = tmp_path / "missed.txt"
    missed.write_text("\n".join(rows) + "\n")
    x, y, w, h = box
    out = tmp_path / "track.csv"
    assert follow_video.main(_args(input=mot16_05, detections=missed, enroll=f"10:{x:.0f},{y:.0f},{w:.0f},{h:.0f}",
                                   output=out)) == 0
    rows = list(csv.reader(out.open()))
    assert np.allclose([float(v) for v in rows[10][1:5]], box, atol=1.0)
    assert sum(r[1] != "" for r in rows[11:]) >= 10                 # followed after it


def test_follow_video_bad_input(mot16_05, gt_detections, tmp_path) -> None:
    det, enroll, _ = gt_detections
    with pytest.raises(EnrollmentError, match="outside the image"):
        follow_video.main(_args(input=mot16_05, detections=det, enroll="10:700,5,20,30", output=tmp_path / "t.csv"))
    with pytest.raises(EnrollmentError, match="beyond the input"):
        follow_video.main(_args(input=mot16_05, detections=det, enroll="99:10,10,50,100",
                                output=tmp_path / "t.csv"))
    bad = tmp_path / "bad.txt"
    bad.write_text("1,-1,10,10,50,100,1\n2,-1,10,ten,50,100,1\n")
    with pytest.raises(MotFormatError, match=r"bad.txt:2"):
        follow_video.main(_args(input=mot16_05, detections=bad, enroll=enroll, output=tmp_path / "t.csv"))
    for text in ("10", "x:1,2,3,4", "0:1,2,3,4", "3:1,2,3", "3:1,2,-3,4"):
        with pytest.raises(EnrollmentError, match="--enroll"):
            parse_enroll(text)
    assert parse_enroll("3:10,20,30,40")[1] == pytest.approx([10, 20, 40, 60])
