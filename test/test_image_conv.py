"""The numpy image converter (no rclpy): every encoding, step padding, endianness, bad input."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reid_follow.ros.image_conv import ENCODINGS, ImageConversionError, image_to_array, to_bgr8, to_depth_m


def make_msg(arr: np.ndarray, encoding: str, pad: int = 0, bigendian: bool = False) -> SimpleNamespace:
    """An Image-like message with ``pad`` junk bytes at the end of every row."""
    dtype, ch = ENCODINGS[encoding]
    a = arr.astype(dtype.newbyteorder(">" if bigendian else "<"))
    h, w = a.shape[:2]
    rows = a.reshape(h, -1).view(np.uint8).reshape(h, -1)
    padded = np.concatenate([rows, np.full((h, pad), 0xAB, np.uint8)], axis=1)
    return SimpleNamespace(encoding=encoding, height=h, width=w, step=rows.shape[1] + pad,
                           is_bigendian=int(bigendian), data=padded.tobytes())


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), pad=st.integers(0, 9),
       enc=st.sampled_from(sorted(ENCODINGS)), big=st.booleans(), seed=st.integers(0, 2**31))
def test_round_trip_with_padding(h, w, pad, enc, big, seed):
    dtype, ch = ENCODINGS[enc]
    rng = np.random.default_rng(seed)
    shape = (h, w, ch) if ch > 1 else (h, w)
    arr = (rng.random(shape) * 1000).astype(dtype) if dtype.kind == "f" else rng.integers(0, np.iinfo(dtype).max, shape).astype(dtype)
    out = image_to_array(make_msg(arr, enc, pad, big))
    np.testing.assert_array_equal(out, arr)


def test_colour_conversions_to_bgr():
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 255, (4, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(to_bgr8(make_msg(bgr, "bgr8", pad=3)), bgr)
    np.testing.assert_array_equal(to_bgr8(make_msg(bgr[..., ::-1], "rgb8")), bgr)
    bgra = np.concatenate([bgr, np.full((4, 5, 1), 7, np.uint8)], axis=2)
    np.testing.assert_array_equal(to_bgr8(make_msg(bgra, "bgra8")), bgr)
    rgba = np.concatenate([bgr[..., ::-1], np.full((4, 5, 1), 7, np.uint8)], axis=2)
    np.testing.assert_array_equal(to_bgr8(make_msg(rgba, "rgba8")), bgr)
    mono = bgr[..., 0]
    assert (to_bgr8(make_msg(mono, "mono8")) == mono[..., None]).all()


def test_depth_units():
    mm = np.array([[1000, 2500], [0, 65535]], np.uint16)
    np.testing.assert_allclose(to_depth_m(make_msg(mm, "16UC1", pad=2)), mm / 1000.0)
    m = np.array([[1.5, np.nan]], np.float32)
    np.testing.assert_array_equal(to_depth_m(make_msg(m, "32FC1")), m)
    with pytest.raises(ImageConversionError, match="not a depth image"):
        to_depth_m(make_msg(np.zeros((2, 2, 3), np.uint8), "bgr8"))


@pytest.mark.parametrize("mutate, message", [
    (lambda m: setattr(m, "encoding", "yuv422"), "unsupported image encoding 'yuv422'"),
    (lambda m: setattr(m, "data", m.data[:-1]), "image data has"),
    (lambda m: setattr(m, "step", 2), "step 2 is smaller"),
    (lambda m: (setattr(m, "height", 0), setattr(m, "data", b"")), "zero size"),
])
def test_bad_images_raise_clear_errors(mutate, message):
    msg = make_msg(np.zeros((3, 4, 3), np.uint8), "bgr8")
    mutate(msg)
    with pytest.raises(ImageConversionError, match=message):
        to_bgr8(msg)


@settings(max_examples=80, deadline=None)
@given(enc=st.text(max_size=8) | st.sampled_from(sorted(ENCODINGS)), h=st.integers(-2, 6), w=st.integers(-2, 6),
       step=st.integers(-2, 40), data=st.binary(max_size=200))
def test_arbitrary_messages_raise_only_conversion_errors(enc, h, w, step, data):
    msg = SimpleNamespace(encoding=enc, height=h, width=w, step=step, is_bigendian=0, data=data)
    try:
        out = image_to_array(msg)
    except ImageConversionError:
        return
    assert out.shape[:2] == (h, w)
