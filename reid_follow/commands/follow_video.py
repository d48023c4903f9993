"""``reid-follow follow-video``: follow an enrolled person offline on a video or an image folder.

Runs the follower node's core (TargetFollower) frame by frame on recorded footage. Detections come
from a MOTChallenge det.txt (``--detections``) or from the built-in detector. Writes ``track.csv``
(``frame,x,y,w,h,score``, one row per input frame, box fields empty when no target is reported)
and optionally an annotated video.
"""
from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", required=True, help="video file or image folder (MOT sequence folders work)")
    p.add_argument("--detections", default="", help="MOTChallenge det.txt (1-based frames); default: "
                                                    "run the built-in detector")
    p.add_argument("--enroll", required=True, metavar="FRAME:X,Y,W,H",
                   help="the person to follow: their box (top-left x, y, width, height, pixels) in 1-based FRAME")
    p.add_argument("--output", required=True, help="track.csv to write")
    p.add_argument("--video-out", default="", help="annotated video to write (e.g. annotated.mp4)")
    p.add_argument("--embedder", default="default", help="default | none | onnx:/path | torch:MODEL[:CKPT]")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda[:i]")
    p.add_argument("--detector-model", default="", help="built-in detector: hog | onnx:/path (default: "
                                                         "the detector node's default)")
    p.add_argument("--config", default="", help="ROS parameter file whose follower.follow section is used "
                                                "(default: the built-in defaults)")


def main(args: argparse.Namespace) -> int:
    import cv2

    from reid_follow.config import DetectorConfig
    from reid_follow.follow.follower import TargetFollower
    from reid_follow.follow.offline import (annotate, detector_detections, follow_frames, mot_detections,
                                            parse_enroll, write_track_csv)
    from reid_follow.mot import read_mot
    from reid_follow.reid import build_embedder
    from reid_follow.video import FrameSource

    enroll_frame, enroll_box = parse_enroll(args.enroll)
    source = FrameSource(args.input)
    if args.detections:
        detections = mot_detections(read_mot(args.detections))
    else:
        from reid_follow.detect import build_detector

        det_cfg = DetectorConfig(detector_model=args.detector_model) if args.detector_model else DetectorConfig()
        detections = detector_detections(build_detector(det_cfg))
    node_cfg = follower_config(args.config)
    follower = TargetFollower(node_cfg.follow, build_embedder(args.embedder, args.device, node_cfg.embedding))
    writer = None
    size: tuple[int, int] | None = None

    def write_frame(_i: int, frame, out) -> None:
        """Frames of another size than the first are resized: a video has one frame size."""
        nonlocal writer, size
        if not args.video_out:
            return
        img = annotate(frame, out)
        if writer is None:
            size = (img.shape[1], img.shape[0])
            writer = cv2.VideoWriter(args.video_out, cv2.VideoWriter_fourcc(*"mp4v"), source.fps, size)
            if not writer.isOpened():
                raise OSError(f"cannot write video {args.video_out}")
        if (img.shape[1], img.shape[0]) != size:
            img = cv2.resize(img, size)
        writer.write(img)

    try:
        outputs = follow_frames(follower, source, detections, enroll_frame, enroll_box, total=len(source),
                                fps=source.fps, on_frame=write_frame)
    finally:
        if writer is not None:
            writer.release()
    write_track_csv(args.output, outputs)
    found = sum(o.box is not None for o in outputs)
    print(f"wrote {args.output}: target reported in {found} of {len(outputs)} frames")
    return 0


def follower_config(path: str):
    """The follower node's configuration (``follow`` and ``embedding`` sections) from a ROS
    parameter file, or the defaults when ``path`` is empty."""
    from reid_follow.config import FollowerConfig, load_stack

    return load_stack(path).follower if path else FollowerConfig()
