"""rosbag2 files of camera footage (+ MOTChallenge detections), written and read with rosbags.

rosbag2_py is not installable here; rosbags writes the same MCAP / sqlite3 bags that
``ros2 bag play`` reads.  vision_msgs types are registered from the installed .msg definitions.
The bag records the QoS its topics were offered with (sensor data for the camera topics, so
``ros2 bag play`` publishes them best effort as a camera driver does) and the ROS distro whose
message definitions it holds.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import yaml
from scipy.special import expit
from tqdm import tqdm

from reid_follow.mot import read_mot, xywh_to_xyxy
from reid_follow.video import FrameSource

IMAGE_T, INFO_T, DETS_T = "sensor_msgs/msg/Image", "sensor_msgs/msg/CameraInfo", "vision_msgs/msg/Detection2DArray"
START_NS = 1_700_000_000 * 1_000_000_000  # a fixed, realistic epoch so bags are reproducible
DISTRO = "kilted"  # the message definitions typestore() uses (Stores.ROS2_KILTED)
SENSOR_DATA_TOPICS = ("/image_raw", "/camera_info", "/depth/image_raw")  # offered as rclpy's qos_profile_sensor_data
DEPTH_ENCODINGS = {np.dtype(np.uint16): ("16UC1", 2), np.dtype(np.float32): ("32FC1", 4)}  # mm, m


def vision_msgs_dir() -> Path:
    """The vision_msgs .msg files: from the installed package, else the project's own copy."""
    try:
        from ament_index_python.packages import get_package_share_directory

        d = Path(get_package_share_directory("vision_msgs")) / "msg"
        if d.is_dir():
            return d
    except (ImportError, LookupError, OSError, ValueError):
        pass
    return Path(__file__).resolve().parents[1] / "ros" / "vision_msgs" / "msg"


def typestore():
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    ts = get_typestore(Stores[f"ROS2_{DISTRO.upper()}"])
    types: dict = {}
    for f in sorted(vision_msgs_dir().glob("*.msg")):
        types.update(get_types_from_msg(f.read_text(), f"vision_msgs/msg/{f.stem}"))
    ts.register(types)
    return ts


def unit_scores(scores: np.ndarray) -> np.ndarray:
    """Detection scores in vision_msgs' range [0, 1]: a det.txt whose scores already are (FRCNN,
    SDP, ground truth) keeps them; raw detector margins (MOT16's DPM: about -0.5 to 3) go through
    the logistic function, which keeps their order."""
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0 or (s.min() >= 0.0 and s.max() <= 1.0):
        return s
    return expit(s)


def offered_qos(topic: str):
    """What the recorded publisher offered: sensor data (best effort, depth 5) for the camera
    topics, the rclpy default (reliable, depth 10) for the rest."""
    from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

    sensor = topic in SENSOR_DATA_TOPICS
    zero = QosTime(0, 0)  # rosbag2's "default" deadline, lifespan and lease
    return [Qos(QosHistory.KEEP_LAST, 5 if sensor else 10,
                QosReliability.BEST_EFFORT if sensor else QosReliability.RELIABLE, QosDurability.VOLATILE,
                zero, zero, QosLiveliness.AUTOMATIC, zero, False)]


def make_bag(video: str | Path, out: str | Path, detections: str | Path | None = None,
             fps: float | None = None, frame_id: str = "camera_optical_frame",
             horizontal_fov_deg: float = 60.0, max_frames: int = 0, storage: str = "mcap",
             depth: Callable[[int], np.ndarray] | None = None) -> int:
    """Write /image_raw (bgr8), /camera_info (+ /detections from det.txt) into a rosbag2 at ``out``.

    ``depth(i)``, if given, is the aligned depth image of 0-based frame ``i`` (uint16 mm -> 16UC1,
    float32 m -> 32FC1), written on /depth/image_raw with the frame's stamp.
    Returns the number of frames written.  det.txt frames are 1-based like the input's frames.
    """
    from rosbags.rosbag2 import StoragePlugin, Writer

    src = FrameSource(video)
    fps = fps or src.fps
    if not fps or fps <= 0 or not math.isfinite(fps):
        raise ValueError(f"invalid frame rate {fps} for {video}")
    dets = read_mot(detections) if detections else None
    if dets is not None:
        dets = dataclasses.replace(dets, score=unit_scores(dets.score))
    ts = typestore()
    m = ts.types
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"bag already exists: {out}")
    plugin = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}[storage]
    total = min(len(src), max_frames) if max_frames else len(src)
    n = 0
    with Writer(out, version=9, storage_plugin=plugin) as w:
        def connection(topic: str, msgtype: str):
            return w.add_connection(topic, msgtype, typestore=ts, offered_qos_profiles=offered_qos(topic))

        c_img = connection("/image_raw", IMAGE_T)
        c_info = connection("/camera_info", INFO_T)
        c_det = connection("/detections", DETS_T) if dets is not None else None
        c_depth = connection("/depth/image_raw", IMAGE_T) if depth is not None else None
        for i, frame in enumerate(tqdm(src, total=total, desc="bag make", unit="frame")):
            if max_frames and i >= max_frames:
                break
            t = START_NS + round(i * 1e9 / fps)
            header = m["std_msgs/msg/Header"](stamp=m["builtin_interfaces/msg/Time"](sec=t // 10**9, nanosec=t % 10**9),
                                              frame_id=frame_id)
            h, wd = frame.shape[:2]
            img = m[IMAGE_T](header=header, height=h, width=wd, encoding="bgr8", is_bigendian=0, step=wd * 3,
                             data=np.ascontiguousarray(frame).reshape(-1))
            w.write(c_img, t, ts.serialize_cdr(img, IMAGE_T))
            w.write(c_info, t, ts.serialize_cdr(camera_info(m, header, wd, h, horizontal_fov_deg), INFO_T))
            if c_depth is not None:
                d = np.ascontiguousarray(depth(i))
                encoding, size = DEPTH_ENCODINGS[d.dtype]
                msg = m[IMAGE_T](header=header, height=d.shape[0], width=d.shape[1], encoding=encoding,
                                 is_bigendian=0, step=d.shape[1] * size, data=d.view(np.uint8).reshape(-1))
                w.write(c_depth, t, ts.serialize_cdr(msg, IMAGE_T))
            if c_det is not None:
                rows = dets.at(i + 1)
                w.write(c_det, t, ts.serialize_cdr(detection_array(m, header, xywh_to_xyxy(rows.xywh), rows.score),
                                                   DETS_T))
            n += 1
    set_distro(out)
    return n


def set_distro(bag: Path) -> None:
    """Write the distro name into metadata.yaml (rosbags writes 'rosbags' there)."""
    meta_path = bag / "metadata.yaml"
    meta = yaml.safe_load(meta_path.read_text())
    meta["rosbag2_bagfile_information"]["ros_distro"] = DISTRO
    meta_path.write_text(yaml.safe_dump(meta, sort_keys=False))


def camera_info(m, header, width: int, height: int, horizontal_fov_deg: float):
    from reid_follow.pose import intrinsics

    k = intrinsics(width, height=height, horizontal_fov_deg=horizontal_fov_deg)
    p = np.zeros(12)
    p[[0, 2, 5, 6, 10]] = k[0, 0], k[0, 2], k[1, 1], k[1, 2], 1.0
    roi = m["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return m[INFO_T](header=header, height=height, width=width, distortion_model="plumb_bob", d=np.zeros(5),
                     k=k.reshape(-1), r=np.eye(3).reshape(-1), p=p, binning_x=0, binning_y=0, roi=roi)


def detection_array(m, header, boxes: np.ndarray, scores: np.ndarray):
    dets = []
    for i, ((x1, y1, x2, y2), s) in enumerate(zip(boxes, scores)):
        centre = m["vision_msgs/msg/Pose2D"](position=m["vision_msgs/msg/Point2D"](x=(x1 + x2) / 2, y=(y1 + y2) / 2),
                                             theta=0.0)
        bbox = m["vision_msgs/msg/BoundingBox2D"](center=centre, size_x=x2 - x1, size_y=y2 - y1)
        pose = m["geometry_msgs/msg/PoseWithCovariance"](
            pose=m["geometry_msgs/msg/Pose"](position=m["geometry_msgs/msg/Point"](x=0.0, y=0.0, z=0.0),
                                             orientation=m["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)),
            covariance=np.zeros(36))
        hyp = m["vision_msgs/msg/ObjectHypothesisWithPose"](
            hypothesis=m["vision_msgs/msg/ObjectHypothesis"](class_id="person", score=float(s)), pose=pose)
        dets.append(m["vision_msgs/msg/Detection2D"](header=header, results=[hyp], bbox=bbox, id=str(i)))
    return m[DETS_T](header=header, detections=dets)


def bag_topics(path: str | Path) -> dict[str, tuple[str, list]]:
    """topic -> (type, offered QoS profiles as rosbags.interfaces.Qos) of a bag."""
    from rosbags.rosbag2 import Reader

    with Reader(Path(path)) as r:
        return {c.topic: (c.msgtype, list(c.ext.offered_qos_profiles)) for c in r.connections}


def read_bag(path: str | Path) -> Iterator[tuple[str, str, int, bytes]]:
    """(topic, type, timestamp ns, raw CDR) of every message in recorded order."""
    from rosbags.rosbag2 import Reader

    with Reader(Path(path)) as r:
        for conn, t, raw in r.messages():
            yield conn.topic, conn.msgtype, t, raw
