"""When each meter is read: at its ``interval_s``, aligned to the clock in the site's zone (a 15-minute meter at
:00, :15, :30, :45; an hourly one on the hour; a daily one at midnight), one thread per bus.

Rules:
- Slots are counted from each local midnight, so they stay on the wall clock; a day's last slot is cut at
  the next midnight (an interval that does not divide the day starts again at 00:00). An interval of whole
  days reads at the midnights whose day number (date.toordinal) it divides.
- A bus reads its due meters one after another (one transaction at a time), in device order; a slot missed
  because the bus was busy is not read twice: the next read is at the next slot after now.
- Every bus has its own thread: a slow or dead bus never delays another.
- The clock is injected (:class:`Clock`), so the tests freeze and step time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from campus.model import Device

log = logging.getLogger("meterwatch.gateway.schedule")
DAY_S = 86_400


class Clock(Protocol):
    def now_ms(self) -> int: ...

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Wait ``seconds`` or until ``stop`` is set; True if it was."""
        ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        return stop.wait(max(0.0, seconds))


def local_midnight_ms(day: date, tz: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp() * 1000)


def local_day(ts_ms: int, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(ts_ms / 1000, tz).date()


def next_slot(after_ms: int, interval_s: int, tz: ZoneInfo) -> int:
    """The first clock-aligned slot (epoch ms) strictly after ``after_ms`` for a meter read every
    ``interval_s`` in zone ``tz``."""
    day = local_day(after_ms, tz)
    if interval_s >= DAY_S:
        every = interval_s // DAY_S
        d = day + timedelta(days=1)
        while d.toordinal() % every:
            d += timedelta(days=1)
        return local_midnight_ms(d, tz)
    midnight = local_midnight_ms(day, tz)
    step = interval_s * 1000
    slot = midnight + ((after_ms - midnight) // step + 1) * step
    return min(slot, local_midnight_ms(day + timedelta(days=1), tz))


class BusSchedule:
    """Reads the meters of one bus at their slots, in a thread of its own, until stopped. ``poll(device)`` does
    the reading (and never raises: the process catches and reports); ``daily(now_ms)`` runs between reads
    (time sync), never during a transaction."""

    def __init__(self, name: str, devices: Sequence[Device], tz: ZoneInfo, poll: Callable[[Device], None], *,
                 clock: Clock | None = None, between: Callable[[int], None] | None = None) -> None:
        self.name = name
        self.devices = list(devices)
        self.tz = tz
        self._poll = poll
        self._between = between
        self.clock = clock or SystemClock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"mw-bus-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to stop after the transaction under way (without waiting: stop several at once)."""
        self._stop.set()

    def stop(self, timeout_s: float = 30) -> None:
        """Stop after the transaction under way (a read is never cut in half)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        now = self.clock.now_ms()
        due = {d.id: next_slot(now, d.interval_s, self.tz) for d in self.devices}
        first = True
        while not self._stop.is_set():
            now = self.clock.now_ms()
            ready = list(self.devices) if first else [d for d in self.devices if due[d.id] <= now]
            at_start, first = first, False  # every meter once at start: its health and its gap are known at once
            if not ready:
                if self._between is not None:
                    self._between(now)
                wait = (min(due.values(), default=now + 60_000) - self.clock.now_ms()) / 1000
                if wait > 0 and self.clock.wait(wait, self._stop):
                    return
                continue
            for device in ready:
                if self._stop.is_set():
                    return
                self._poll(device)
                if not at_start or due[device.id] <= self.clock.now_ms():
                    due[device.id] = next_slot(max(self.clock.now_ms(), due[device.id]), device.interval_s, self.tz)
