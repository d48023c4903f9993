"""Conversions between ROS messages and the core's numpy types."""
from __future__ import annotations

import math

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped
from std_msgs.msg import Header
from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

PERSON_CLASS_IDS = ("person", "0", "1", "")


def stamp_key(header: Header) -> int:
    """Nanoseconds of a header stamp: the key that pairs an image with its detections."""
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def detections_to_msg(header: Header, boxes: np.ndarray, scores: np.ndarray) -> Detection2DArray:
    msg = Detection2DArray(header=header)
    for i, ((x1, y1, x2, y2), s) in enumerate(zip(boxes, scores)):
        det = Detection2D(header=header, id=str(i))
        det.bbox.center.position.x, det.bbox.center.position.y = (x1 + x2) / 2.0, (y1 + y2) / 2.0
        det.bbox.size_x, det.bbox.size_y = float(x2 - x1), float(y2 - y1)
        hyp = ObjectHypothesisWithPose()
        hyp.hypothesis.class_id, hyp.hypothesis.score = "person", float(s)
        det.results.append(hyp)
        msg.detections.append(det)
    return msg


def msg_to_detections(msg: Detection2DArray, width: int, height: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Person boxes (xyxy, clipped to the image) and scores; invalid boxes are dropped with a reason.

    A detection counts as a person when it has no hypothesis or one whose class_id is 'person'
    (or COCO's 0 / 1-based 1), so detectors that only publish people need no labels.
    """
    boxes, scores, problems = [], [], []
    for i, det in enumerate(msg.detections):
        cx, cy = det.bbox.center.position.x, det.bbox.center.position.y
        w, h = det.bbox.size_x, det.bbox.size_y
        hyps = [r.hypothesis for r in det.results]
        person = [hh for hh in hyps if hh.class_id.lower() in PERSON_CLASS_IDS]
        if hyps and not person:
            continue
        score = max((hh.score for hh in person), default=1.0)
        if not all(math.isfinite(v) for v in (cx, cy, w, h, score)):
            problems.append(f"detection {i}: non-finite box or score")
            continue
        if w <= 0 or h <= 0:
            problems.append(f"detection {i}: non-positive size {w}x{h}")
            continue
        box = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
        clipped = np.clip(box, 0, [width, height, width, height])
        if clipped[2] - clipped[0] < 1 or clipped[3] - clipped[1] < 1:
            problems.append(f"detection {i}: box outside the {width}x{height} image")
            continue
        boxes.append(clipped)
        scores.append(score)
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4), np.asarray(scores, dtype=np.float64), problems


def pose_msg(header: Header, frame_id: str, position: np.ndarray, orientation: np.ndarray) -> PoseStamped:
    """A PoseStamped at ``position`` with ``orientation`` (quaternion x, y, z, w: the pose estimator's
    bearing from the camera, so a navigation goal made from it faces the person)."""
    msg = PoseStamped()
    msg.header.stamp, msg.header.frame_id = header.stamp, frame_id
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in position)
    o = msg.pose.orientation
    o.x, o.y, o.z, o.w = (float(v) for v in orientation)
    return msg


def diagnostics_msg(node, name: str, level: bytes, message: str, values: dict[str, object]) -> DiagnosticArray:
    """One node's status for /diagnostics, stamped now, ``values`` as key/value strings."""
    status = DiagnosticStatus(level=level, name=name, message=message, hardware_id=node.get_fully_qualified_name(),
                              values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])
    msg = DiagnosticArray(status=[status])
    msg.header.stamp = node.get_clock().now().to_msg()
    return msg
