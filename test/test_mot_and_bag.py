"""MOTChallenge files and rosbag2 files of real footage (no rclpy needed)."""
from __future__ import annotations

import numpy as np
import pytest

from reid_follow.bagfile import make_bag, read_bag, typestore
from reid_follow.mot import MotFormatError, read_mot, xywh_to_xyxy


def test_read_real_det_and_gt(mot16_05, shared_data):
    det = read_mot(mot16_05 / "det" / "det.txt")
    assert det.frame.min() == 1 and det.frame.max() == 48 and (det.ids == -1).all()
    gt = read_mot(mot16_05 / "gt" / "gt.txt")
    peds = (gt.cls == 1) & (gt.score == 1)
    assert peds.sum() == 402  # the data README's count
    unsorted = read_mot(shared_data / "MOT17-mini" / "MOT17-05-FRCNN" / "det" / "det.txt")
    assert (np.diff(unsorted.frame) >= 0).all()


def test_malformed_lines_name_the_line(tmp_path):
    p = tmp_path / "det.txt"
    p.write_text("1,-1,10,10,20,40,0.9\n2,-1,10,10,abc,40,0.9\n")
    with pytest.raises(MotFormatError, match=r"det.txt:2: non-numeric"):
        read_mot(p)
    p.write_text("1,-1,10,10\n")
    with pytest.raises(MotFormatError, match=r":1: expected at least 6 columns"):
        read_mot(p)
    p.write_text("0,-1,10,10,20,40\n")
    with pytest.raises(MotFormatError, match="1-based"):
        read_mot(p)
    p.write_text("3,-1,10,10,-20,40\n")
    with pytest.raises(MotFormatError, match="width and height"):
        read_mot(p)
    with pytest.raises(MotFormatError, match="cannot read"):
        read_mot(tmp_path / "missing.txt")


def test_bag_round_trip_of_real_footage(tmp_path, mot16_05):
    out = tmp_path / "bag"
    n = make_bag(mot16_05, out, mot16_05 / "det" / "det.txt", max_frames=5)
    assert n == 5
    ts = typestore()
    msgs = list(read_bag(out))
    assert [m[0] for m in msgs[:3]] == ["/image_raw", "/camera_info", "/detections"]
    img = ts.deserialize_cdr(msgs[0][3], "sensor_msgs/msg/Image")
    import cv2

    first = cv2.imread(str(mot16_05 / "img1" / "000001.jpg"))
    assert (img.height, img.width, img.encoding) == (480, 640, "bgr8")
    np.testing.assert_array_equal(img.data.reshape(480, 640, 3), first)
    dets = ts.deserialize_cdr(msgs[2][3], "vision_msgs/msg/Detection2DArray")
    rows = read_mot(mot16_05 / "det" / "det.txt").at(1)
    got = np.array([[d.bbox.center.position.x - d.bbox.size_x / 2, d.bbox.center.position.y - d.bbox.size_y / 2,
                     d.bbox.center.position.x + d.bbox.size_x / 2, d.bbox.center.position.y + d.bbox.size_y / 2]
                    for d in dets.detections])
    np.testing.assert_allclose(got, xywh_to_xyxy(rows.xywh))
    assert dets.header.stamp == img.header.stamp
    stamps = [m[2] for m in msgs if m[0] == "/image_raw"]
    assert np.allclose(np.diff(stamps), 1e9 / 14, atol=1)  # seqinfo frameRate
    with pytest.raises(FileExistsError):
        make_bag(mot16_05, out)


def test_bag_metadata_qos_distro_and_unit_scores(tmp_path, mot16_05):
    """What `ros2 bag play` reads from the bag: sensor-data QoS for the camera topics, reliable
    detections, the distro name; detection scores in vision_msgs' 0-1 with their order kept."""
    import yaml

    from reid_follow.bagfile import DISTRO, bag_topics, unit_scores

    out = tmp_path / "bag"
    make_bag(mot16_05, out, mot16_05 / "det" / "det.txt", max_frames=8)
    info = yaml.safe_load((out / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["ros_distro"] == DISTRO == "kilted"
    qos = {t["topic_metadata"]["name"]: t["topic_metadata"]["offered_qos_profiles"][0]
           for t in info["topics_with_message_count"]}
    assert qos["/image_raw"]["reliability"] == qos["/camera_info"]["reliability"] == "best_effort"
    assert qos["/image_raw"]["history"] == "keep_last" and qos["/image_raw"]["depth"] == 5
    assert qos["/detections"]["reliability"] == "reliable"
    assert {t: q[0].reliability.name for t, (_, q) in bag_topics(out).items()} == {
        "/image_raw": "BEST_EFFORT", "/camera_info": "BEST_EFFORT", "/detections": "RELIABLE"}
    raw = read_mot(mot16_05 / "det" / "det.txt")
    assert raw.score.min() < 0 and raw.score.max() > 1          # DPM margins, not probabilities
    ts = typestore()
    got = []
    for topic, msgtype, _t, data in read_bag(out):
        if topic == "/detections":
            got += [d.results[0].hypothesis.score for d in ts.deserialize_cdr(data, msgtype).detections]
    expected = unit_scores(raw.score)[raw.frame <= 8]
    np.testing.assert_allclose(got, expected)
    assert 0 < min(got) and max(got) < 1
    order = np.argsort(raw.score[raw.frame <= 8], kind="stable")
    assert (np.diff(np.asarray(got)[order]) >= 0).all()          # same ranking as the detector's
    probabilities = np.array([0.0, 0.3, 1.0])
    np.testing.assert_array_equal(unit_scores(probabilities), probabilities)  # already 0-1: kept
