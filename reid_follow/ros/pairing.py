"""Pairing camera images with the detection arrays (and depth images) that carry their stamp.

Pure Python (no rclpy), so it is tested on its own. A detector slower than the camera publishes
the detections of an image long after the image: 100-400 ms later is usual for a CPU detector
that always takes the newest frame. Pairing therefore keeps every message for a span of *stamp
time* (``window_ns``, measured against the newest stamp seen on any input), not a count of
messages: a count of 10 images is only 333 ms of a 30 Hz camera, and every detection array that
arrived later than that was lost (issue 11: 0 of 25 paired at 400 ms).

Stamps are the sensor's clock (header stamps, integer nanoseconds), so the same pairing works
for a live camera, a bag at any replay rate and simulated time. Pairs come out in increasing
stamp order, as the following core needs; once a pair at stamp ``s`` is out, anything older
than ``s`` can never be used and is dropped (and counted).

Depth is optional: an aligned depth image goes with the pair whose stamp is nearest within
``depth_tolerance_ns``. While depth images keep arriving, a pair whose depth has not come yet
waits for it (at most the window); without a depth stream nothing waits.
"""
from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

JUMP_BACK_NS = 1_000_000_000  # an image this much older than the newest one: the clock restarted


class Drop(enum.StrEnum):
    """Why a message was dropped unpaired (the keys of StampPairer.counts)."""

    IMAGE_UNPAIRED = "images_unpaired"          # no detections for it (normal: the detector skipped it)
    DETECTIONS_UNPAIRED = "detections_unpaired"  # its image was gone: the follower missed a detection
    STALE = "stale_dropped"                      # older than (or as old as) the last pair: out of order
    DEPTH_UNPAIRED = "depth_unpaired"            # no pair within depth_tolerance_ns


@dataclass
class Pair:
    """An image with its detection array, and the aligned depth image if one was paired."""

    stamp: int
    image: Any
    detections: Any
    depth: Any | None = None


class StampPairer:
    """Pairs image, detections and (optional) depth messages by header stamp within a time window.

    ``add_*`` return the pairs that became ready, oldest first. ``on_restart`` is called when the
    image stamps jump back by more than a second (a looping bag, a restarted camera driver):
    everything pending is discarded and pairing starts again from the new stamps.
    """

    def __init__(self, window_ns: int, depth_tolerance_ns: int = 0,
                 on_restart: Callable[[], None] | None = None) -> None:
        if window_ns <= 0:
            raise ValueError(f"window_ns must be > 0, got {window_ns}")
        if depth_tolerance_ns < 0:
            raise ValueError(f"depth_tolerance_ns must be >= 0, got {depth_tolerance_ns}")
        self.window_ns, self.depth_tolerance_ns, self.on_restart = window_ns, depth_tolerance_ns, on_restart
        self.counts: dict[str, int] = {"pairs": 0, **{d.value: 0 for d in Drop}}
        self._images: OrderedDict[int, Any] = OrderedDict()
        self._dets: OrderedDict[int, Any] = OrderedDict()
        self._depths: OrderedDict[int, Any] = OrderedDict()
        self._waiting: list[Pair] = []     # paired, waiting for their depth image
        self._newest = -1                  # newest stamp seen on any input
        self._newest_image = -1
        self._newest_depth = -1
        self._last_pair = -1               # stamp of the newest pair handed out or waiting

    # ---- inputs ----------------------------------------------------------------------------
    def add_image(self, stamp: int, msg: Any) -> list[Pair]:
        if self._newest_image - stamp > JUMP_BACK_NS:
            self.restart()
        self._newest_image = max(self._newest_image, stamp)
        return self._add(stamp, msg, self._images, self._dets, image_first=True)

    def add_detections(self, stamp: int, msg: Any) -> list[Pair]:
        return self._add(stamp, msg, self._dets, self._images, image_first=False)

    def add_depth(self, stamp: int, msg: Any) -> list[Pair]:
        if stamp < self._newest_depth:
            self.counts[Drop.STALE] += 1
            return []
        self._newest_depth = stamp
        self._depths[stamp] = msg
        self._advance(stamp)
        return self._release()

    def restart(self) -> None:
        """Forget everything pending and every stamp seen (the clock went back)."""
        self._images.clear()
        self._dets.clear()
        self._depths.clear()
        self._waiting.clear()
        self._newest = self._newest_image = self._newest_depth = self._last_pair = -1
        if self.on_restart is not None:
            self.on_restart()

    # ---- state -----------------------------------------------------------------------------
    @property
    def newest(self) -> int:
        """The newest stamp seen on any input (-1 before the first): the window's reference."""
        return self._newest

    @property
    def depth_active(self) -> bool:
        """Whether depth images arrive (one within the window of the newest stamp)."""
        return self._newest_depth >= 0 and self._newest - self._newest_depth <= self.window_ns

    def pending(self) -> dict[str, int]:
        """Messages held now, per kind (memory is bounded by the window, not by this)."""
        return {"images": len(self._images), "detections": len(self._dets), "depth": len(self._depths),
                "waiting_for_depth": len(self._waiting)}

    # ---- internals -------------------------------------------------------------------------
    def _add(self, stamp: int, msg: Any, mine: OrderedDict, other: OrderedDict, image_first: bool) -> list[Pair]:
        if stamp <= self._last_pair:
            self.counts[Drop.STALE] += 1
            return []
        self._advance(stamp)
        if stamp < self._newest - self.window_ns:  # arrived after its partner expired
            self.counts[Drop.DETECTIONS_UNPAIRED if not image_first else Drop.IMAGE_UNPAIRED] += 1
            return []
        partner = other.pop(stamp, None)
        if partner is None:
            mine[stamp] = msg
            mine.move_to_end(stamp)
            return self._release()
        image, dets = (msg, partner) if image_first else (partner, msg)
        self._drop_older(stamp)
        self._last_pair = stamp
        self.counts["pairs"] += 1
        self._waiting.append(Pair(stamp, image, dets))
        return self._release()

    def _advance(self, stamp: int) -> None:
        """Move the newest stamp on and expire what fell out of the window."""
        self._newest = max(self._newest, stamp)
        oldest = self._newest - self.window_ns
        for queue, drop in ((self._images, Drop.IMAGE_UNPAIRED), (self._dets, Drop.DETECTIONS_UNPAIRED)):
            for k in [k for k in queue if k < oldest]:
                del queue[k]
                self.counts[drop] += 1
        for k in [k for k in self._depths if k < oldest - self.depth_tolerance_ns]:
            del self._depths[k]
            self.counts[Drop.DEPTH_UNPAIRED] += 1

    def _drop_older(self, stamp: int) -> None:
        """A pair at ``stamp``: older images and detections can never be paired (pairs go out in order)."""
        for queue, drop in ((self._images, Drop.IMAGE_UNPAIRED), (self._dets, Drop.DETECTIONS_UNPAIRED)):
            for k in [k for k in queue if k < stamp]:
                del queue[k]
                self.counts[drop] += 1

    def _release(self) -> list[Pair]:
        """The waiting pairs, in order, whose depth is settled: found, not coming, or not used."""
        out: list[Pair] = []
        while self._waiting:
            pair = self._waiting[0]
            expired = pair.stamp < self._newest - self.window_ns
            if self.depth_active and self._newest_depth < pair.stamp and not expired:
                break  # the depth image of this stamp (or a later one) may still come
            self._waiting.pop(0)
            pair.depth = self._take_depth(pair.stamp)
            out.append(pair)
        return out

    def _take_depth(self, stamp: int) -> Any | None:
        near = [k for k in self._depths if abs(k - stamp) <= self.depth_tolerance_ns]
        best = min(near, key=lambda k: abs(k - stamp), default=None)
        depth = self._depths.pop(best) if best is not None else None
        for k in [k for k in self._depths if k < stamp]:  # older depth images have no later pair to go with
            del self._depths[k]
            self.counts[Drop.DEPTH_UNPAIRED] += 1
        return depth
