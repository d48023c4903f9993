"""sensor_msgs/Image <-> numpy without cv_bridge (not installable here; it also pins numpy<2).

Works on any object with the Image fields, so it is tested without rclpy.  Honours ``step``
padding and ``is_bigendian``; anything else is an :class:`ImageConversionError` with a reason.
"""
from __future__ import annotations

from typing import Any

import numpy as np

# encoding -> (dtype, channels)
ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "bgr8": (np.dtype(np.uint8), 3),
    "rgb8": (np.dtype(np.uint8), 3),
    "mono8": (np.dtype(np.uint8), 1),
    "bgra8": (np.dtype(np.uint8), 4),
    "rgba8": (np.dtype(np.uint8), 4),
    "16UC1": (np.dtype(np.uint16), 1),
    "mono16": (np.dtype(np.uint16), 1),
    "32FC1": (np.dtype(np.float32), 1),
}


class ImageConversionError(ValueError):
    """An Image message that cannot be turned into an array (the reason is in the message)."""


def image_to_array(msg: Any) -> np.ndarray:
    """The image as an (H, W) or (H, W, C) array in its own encoding (a copy-free view if possible)."""
    enc = msg.encoding
    if enc not in ENCODINGS:
        raise ImageConversionError(f"unsupported image encoding {enc!r}; supported: {sorted(ENCODINGS)}")
    dtype, ch = ENCODINGS[enc]
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    if h <= 0 or w <= 0:
        raise ImageConversionError(f"image has zero size ({w}x{h})")
    row = w * ch * dtype.itemsize
    if step < row:
        raise ImageConversionError(f"step {step} is smaller than width*channels*bytes = {row} ({enc}, {w}x{h})")
    buf = np.frombuffer(msg.data, dtype=np.uint8) if len(msg.data) else np.zeros(0, np.uint8)
    if buf.size < step * (h - 1) + row:
        raise ImageConversionError(f"image data has {buf.size} bytes, expected {step * h} "
                                   f"({w}x{h} {enc}, step {step})")
    rows = np.lib.stride_tricks.as_strided(buf, shape=(h, row), strides=(step, 1))
    arr = rows.view(dtype.newbyteorder(">" if msg.is_bigendian else "<")) if dtype.itemsize > 1 else rows
    arr = arr.reshape(h, w, ch) if ch > 1 else arr.reshape(h, w)
    return arr.astype(dtype, copy=False) if dtype.itemsize > 1 else arr


def to_bgr8(msg: Any) -> np.ndarray:
    """A contiguous HxWx3 uint8 BGR frame from a colour or mono8 image."""
    arr = image_to_array(msg)
    enc = msg.encoding
    if enc == "bgr8":
        return np.ascontiguousarray(arr)
    if enc == "rgb8":
        return np.ascontiguousarray(arr[..., ::-1])
    if enc == "bgra8":
        return np.ascontiguousarray(arr[..., :3])
    if enc == "rgba8":
        return np.ascontiguousarray(arr[..., 2::-1])
    if enc == "mono8":
        return np.ascontiguousarray(np.repeat(arr[..., None], 3, axis=2))
    raise ImageConversionError(f"encoding {enc!r} is not a colour image (expected bgr8/rgb8/bgra8/rgba8/mono8)")


def to_depth_m(msg: Any) -> np.ndarray:
    """A depth image in metres (float32): 16UC1/mono16 millimetres or 32FC1 metres."""
    arr = image_to_array(msg)
    if msg.encoding in ("16UC1", "mono16"):
        return arr.astype(np.float32) / 1000.0
    if msg.encoding == "32FC1":
        return np.ascontiguousarray(arr, dtype=np.float32)
    raise ImageConversionError(f"encoding {msg.encoding!r} is not a depth image (expected 16UC1 or 32FC1)")


def fill_image(msg: Any, arr: np.ndarray, encoding: str) -> Any:
    """Write ``arr`` into an Image message (data, sizes, step, encoding) and return it."""
    import array

    if encoding not in ENCODINGS:
        raise ImageConversionError(f"unsupported image encoding {encoding!r}")
    dtype, ch = ENCODINGS[encoding]
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if (arr.ndim == 2 and ch != 1) or (arr.ndim == 3 and arr.shape[2] != ch) or arr.ndim not in (2, 3):
        raise ImageConversionError(f"array of shape {arr.shape} does not fit encoding {encoding}")
    msg.height, msg.width = arr.shape[:2]
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = arr.shape[1] * ch * dtype.itemsize
    msg.data = array.array("B", arr.tobytes())
    return msg
