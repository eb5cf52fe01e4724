"""Clocks the katas read time from, so expiry can be tested by jumping, not sleeping."""

from __future__ import annotations

import threading


class FakeClock:
    """Starts at a fixed instant and moves only when told to (thread-safe)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
