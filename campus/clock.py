"""The alert engine's sense of "now", for silence, escalation and retries.

``wall`` is the real clock (production). ``stream`` is the newest reading time seen, so a
simulated campus replayed faster than real time ages at its own pace (tests, demos of the
past). ``FrozenClock`` is for tests that move time by hand.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...
    def saw(self, ts_ms: int) -> None: ...


class WallClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def saw(self, ts_ms: int) -> None:
        return None


class StreamClock:
    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        return self._now

    def saw(self, ts_ms: int) -> None:
        with self._lock:
            if ts_ms > self._now:
                self._now = ts_ms


class FrozenClock(StreamClock):
    def saw(self, ts_ms: int) -> None:
        return None

    def set(self, ts_ms: int) -> None:
        self._now = ts_ms

    def advance(self, seconds: float) -> None:
        self._now += int(seconds * 1000)


def make_clock(kind: str) -> Clock:
    return StreamClock() if kind == "stream" else WallClock()
