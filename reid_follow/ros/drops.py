"""Counting the camera frames a node never saw.

Both nodes subscribe to images with depth 1 so that a node slower than the camera always works
on the newest frame; the frames that were replaced in the queue would otherwise vanish without
a trace. DDS numbers every sample a publisher sends, and rclpy hands that number to a callback
that takes a second ``MessageInfo`` argument: a gap between consecutive numbers from the same
publisher is the count of frames dropped in between.
"""
from __future__ import annotations


class DropCounter:
    def __init__(self) -> None:
        self._last: dict[bytes, int] = {}
        self.dropped = 0

    def see(self, info: dict) -> None:
        """Record one received sample's info; ``dropped`` grows by the samples of its publisher skipped."""
        seq = info.get("publication_sequence_number")
        if not seq:
            return
        key = bytes((info.get("publisher_gid") or {}).get("data", b""))
        last = self._last.get(key)
        self._last[key] = seq
        if last is not None and seq > last:
            self.dropped += seq - last - 1
