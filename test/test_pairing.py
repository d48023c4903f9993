"""Stamp pairing of images, detections and depth (reid_follow.ros.pairing), without rclpy.

The camera/detector timing is simulated as it happens on a robot: a 30 Hz camera, and a
detector that takes the newest frame whenever it is free and publishes its detections
``latency`` seconds later (issue 11: 0 of 25 arrays paired at 400 ms with the old count queue).
"""
from __future__ import annotations

import heapq

import pytest

from reid_follow.ros.pairing import Drop, StampPairer

MS = 1_000_000
FRAME = 33_333_333  # 30 Hz


def camera_and_slow_detector(latency_ms: float, frames: int = 150) -> list[tuple[int, str, int]]:
    """Arrival events (arrival ns, kind, stamp): every frame as 'image'; 'detections' for each frame
    the detector took (the newest one when it became free), ``latency_ms`` after that frame."""
    events = [(i * FRAME, "image", i * FRAME) for i in range(frames)]
    free_at, last = 0, -1
    while True:
        i = max(free_at // FRAME, last + 1)  # the newest frame once free (or the next one to come)
        if i >= frames:
            break
        done = max(free_at, i * FRAME) + int(latency_ms * MS)
        events.append((done, "detections", i * FRAME))
        free_at, last = done, i
    heapq.heapify(events)
    return [heapq.heappop(events) for _ in range(len(events))]


def feed(pairer: StampPairer, events) -> list:
    pairs = []
    for _arrival, kind, stamp in events:
        add = {"image": pairer.add_image, "detections": pairer.add_detections, "depth": pairer.add_depth}[kind]
        pairs += add(stamp, f"{kind}@{stamp}")
    return pairs


@pytest.mark.parametrize("latency_ms", [100, 300, 340, 400])
def test_every_detection_array_is_paired_at_any_detector_latency(latency_ms):
    events = camera_and_slow_detector(latency_ms)
    detections = [s for _, k, s in events if k == "detections"]
    pairer = StampPairer(window_ns=1000 * MS)
    pairs = feed(pairer, events)
    assert [p.stamp for p in pairs] == detections  # all of them, in order
    assert all(p.image == f"image@{p.stamp}" and p.detections == f"detections@{p.stamp}" for p in pairs)
    assert pairer.counts[Drop.DETECTIONS_UNPAIRED] == 0 and pairer.counts["pairs"] == len(detections)
    # the images the detector skipped are dropped, not kept: memory is bounded by the window
    assert pairer.pending()["images"] <= 1000 * MS // FRAME + 1


def test_a_window_shorter_than_the_latency_loses_detections_and_counts_them():
    """What the old 10-message queue (333 ms at 30 Hz) did at 400 ms: nothing paired, all counted."""
    events = [e for e in camera_and_slow_detector(400) if e[0] < 149 * FRAME]  # while the camera runs
    pairer = StampPairer(window_ns=333 * MS)
    assert feed(pairer, events) == []
    assert pairer.counts[Drop.DETECTIONS_UNPAIRED] == sum(k == "detections" for _, k, _ in events)


def test_detections_before_their_image_and_out_of_order_messages():
    pairer = StampPairer(window_ns=500 * MS)
    assert pairer.add_detections(10 * MS, "d10") == []   # detections first (a bag, a fast detector)
    (pair,) = pairer.add_image(10 * MS, "i10")
    assert (pair.stamp, pair.image, pair.detections, pair.depth) == (10 * MS, "i10", "d10", None)
    assert pairer.add_image(5 * MS, "i5") == [] and pairer.add_detections(10 * MS, "again") == []
    assert pairer.counts[Drop.STALE] == 2                  # older than / same as the last pair
    pairer.add_image(20 * MS, "i20")
    pairer.add_image(30 * MS, "i30")
    (pair,) = pairer.add_detections(30 * MS, "d30")
    assert pair.image == "i30"
    assert pairer.counts[Drop.IMAGE_UNPAIRED] == 1         # i20 can never be processed after i30
    assert pairer.add_detections(20 * MS, "late") == []    # its image is gone
    assert pairer.counts[Drop.STALE] == 3


def test_image_stamps_jumping_back_restart_pairing():
    restarts = []
    pairer = StampPairer(window_ns=500 * MS, on_restart=lambda: restarts.append(1))
    for t in (0, 100, 2000):
        pairer.add_image(t * MS, f"i{t}")
        pairer.add_detections(t * MS, f"d{t}")
    assert pairer.counts["pairs"] == 3 and restarts == []
    (pair,) = pairer.add_image(0, "loop") + pairer.add_detections(0, "loop-d")  # the bag looped
    assert restarts == [1] and pair.image == "loop"


def test_depth_goes_with_the_nearest_stamp_and_pairs_wait_for_it():
    pairer = StampPairer(window_ns=500 * MS, depth_tolerance_ns=10 * MS)
    # no depth stream: nothing waits
    assert [p.depth for p in pairer.add_image(0, "i0") + pairer.add_detections(0, "d0")] == [None]
    pairer.add_depth(30 * MS, "z30")
    pairer.add_depth(64 * MS, "z64")
    pairer.add_image(66 * MS, "i66")
    assert [p.depth for p in pairer.add_detections(66 * MS, "d66")] == []  # z67 may still come: wait
    pairer.add_image(100 * MS, "i100")
    pairer.add_detections(100 * MS, "d100")                # behind the waiting pair, in order
    out = pairer.add_depth(67 * MS, "z67")
    assert [(p.stamp, p.depth) for p in out] == [(66 * MS, "z67")]  # nearest of z64, z67
    out = pairer.add_depth(101 * MS, "z101")
    assert [(p.stamp, p.depth) for p in out] == [(100 * MS, "z101")]
    assert pairer.counts[Drop.DEPTH_UNPAIRED] == 2          # z30 and z64
    # a depth image that never comes: the pair goes out without depth once it leaves the window
    pairer.add_image(133 * MS, "i133")
    assert pairer.add_detections(133 * MS, "d133") == []
    late = pairer.add_image(700 * MS, "i700")
    assert [(p.stamp, p.depth) for p in late] == [(133 * MS, None)]


def test_depth_outside_the_tolerance_is_not_used():
    pairer = StampPairer(window_ns=500 * MS, depth_tolerance_ns=5 * MS)
    pairer.add_depth(0, "z0")
    pairer.add_depth(50 * MS, "z50")
    pairer.add_image(40 * MS, "i40")
    (pair,) = pairer.add_detections(40 * MS, "d40")         # the depth stream is past 40 ms already
    assert pair.depth is None


def test_invalid_windows():
    with pytest.raises(ValueError, match="window_ns"):
        StampPairer(0)
    with pytest.raises(ValueError, match="depth_tolerance_ns"):
        StampPairer(MS, -1)
