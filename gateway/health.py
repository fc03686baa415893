"""Each meter's health as the gateway sees it, and the meters' clocks.

Health (the contract the server stores, ``{prefix}/{site}/{device}/health``, retained):
``{"ts", "ok", "code", "error", "last_answer", "success_rate", "gateway", "bus"}`` — ``ts`` and
``last_answer`` epoch seconds (``last_answer`` null if the meter never answered this gateway), ``success_rate``
the share of the last 24 h of polls that were answered (0..1), ``code`` the read failure's code (``no_answer``,
``checksum``, ``garbled``, ``abnormal``, ``wrong_address``, ``link_down``) or null when ok, ``error`` its words.
A message is made after every poll whose outcome (ok, code) changed, and at least every ``every_s``.

Meter clocks: a DL/T 645 meter freezes its day at 00:00 **by its own clock**, and on many meters the clock also
switches the tariff periods (峰谷平). Setting it is therefore the utility's or the owner's decision, not a side
effect of reading: the broadcast time sync (:class:`TimeSync`) is off by default (``[gateway] time_sync``),
and when on, it broadcasts at most once a day, at ``time_sync_hour`` (default 03:00, far from the midnight
freeze), remembered in the buffer so that a restart does not broadcast twice.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

log = logging.getLogger("meterwatch.gateway.health")
HOUR_MS = 3_600_000
WINDOW_H = 24


@dataclass
class _Meter:
    bus: str
    hours: dict[int, list[int]] = field(default_factory=dict)  # hour index → [answered, polls]
    last_answer_ms: int | None = None
    outcome: tuple[bool, str | None] | None = None
    error: str | None = None
    published_ms: int | None = None


class MeterHealth:
    """Per meter: the last answer, the success rate over 24 h (hourly counts, so the memory is bounded), the last
    error in words. Thread-safe (each bus thread records its own meters)."""

    def __init__(self, gateway_id: str, every_s: float = 3600) -> None:
        self.gateway_id = gateway_id
        self.every_ms = int(every_s * 1000)
        self._meters: dict[str, _Meter] = {}
        self._lock = threading.Lock()

    def seed(self, device: str, bus: str, last_answer_ms: int | None) -> None:
        """What the buffer remembers from before a restart (the last answer)."""
        with self._lock:
            m = self._meters.setdefault(device, _Meter(bus))
            m.bus = bus
            if last_answer_ms is not None and (m.last_answer_ms or 0) < last_answer_ms:
                m.last_answer_ms = last_answer_ms

    def record(self, device: str, bus: str, at_ms: int, *, code: str | None = None,
               error: str | None = None) -> dict[str, Any] | None:
        """One poll's outcome (``code`` None: answered). Returns the health message to publish, or None when
        nothing changed and the last one is recent."""
        ok = code is None
        with self._lock:
            m = self._meters.setdefault(device, _Meter(bus))
            m.bus = bus
            hour = at_ms // HOUR_MS
            counts = m.hours.setdefault(hour, [0, 0])
            counts[0] += ok
            counts[1] += 1
            for h in [h for h in m.hours if h <= hour - WINDOW_H]:
                del m.hours[h]
            if ok:
                m.last_answer_ms = max(m.last_answer_ms or 0, at_ms)
            m.error = error if not ok else None
            changed = m.outcome != (ok, code)
            m.outcome = (ok, code)
            if not changed and m.published_ms is not None and at_ms - m.published_ms < self.every_ms:
                return None
            m.published_ms = at_ms
            return self._message(m, at_ms)

    def _message(self, m: _Meter, at_ms: int) -> dict[str, Any]:
        answered = sum(a for a, _ in m.hours.values())
        polls = sum(n for _, n in m.hours.values())
        ok, code = m.outcome or (True, None)
        return {"ts": at_ms // 1000, "ok": ok, "code": code, "error": m.error,
                "last_answer": None if m.last_answer_ms is None else m.last_answer_ms // 1000,
                "success_rate": round(answered / polls, 4) if polls else None,
                "gateway": self.gateway_id, "bus": m.bus}

    def snapshot(self, device: str, at_ms: int) -> dict[str, Any] | None:
        with self._lock:
            m = self._meters.get(device)
            return None if m is None or m.outcome is None else self._message(m, at_ms)


class TimeSync:
    """At most one DL/T 645 broadcast time a day per bus, at or after ``hour`` local time (off unless
    ``[gateway] time_sync``). ``due`` says whether to broadcast now; ``done`` remembers the day in ``state``
    (the buffer's small state, so a restart does not broadcast again the same day)."""

    def __init__(self, enabled: bool, hour: int, tz: ZoneInfo, state: Any) -> None:
        self.enabled, self.hour, self.tz, self.state = enabled, hour, tz, state

    def due(self, bus: str, now_ms: int) -> bool:
        if not self.enabled:
            return False
        local = datetime.fromtimestamp(now_ms / 1000, self.tz)
        return local.hour >= self.hour and self.state.get(f"time_sync:{bus}") != local.date().isoformat()

    def done(self, bus: str, now_ms: int) -> None:
        self.state.set(f"time_sync:{bus}", datetime.fromtimestamp(now_ms / 1000, self.tz).date().isoformat())
