"""Logging of bad input: every distinct problem at once, repeats of the same one at most every period.

rclpy's throttle is per call site, so one throttled "frame skipped" line would hide a different
problem (a zero-size frame right after a truncated one); here the key is the message with its
numbers removed.
"""
from __future__ import annotations

import re
import time

_NUMBERS = re.compile(r"\d+(\.\d+)?")


class ProblemLog:
    def __init__(self, logger, period_s: float = 5.0) -> None:
        self.logger, self.period_s = logger, period_s
        self._last: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def _due(self, message: str) -> bool:
        key = _NUMBERS.sub("#", message)
        self.counts[key] = self.counts.get(key, 0) + 1
        now = time.monotonic()
        if now - self._last.get(key, -1e9) < self.period_s:
            return False
        self._last[key] = now
        return True

    def error(self, message: str) -> None:
        if self._due(message):
            self.logger.error(message)

    def warning(self, message: str) -> None:
        if self._due(message):
            self.logger.warning(message)
