"""Backfill from the meters' memory: DL/T 645-2007 daily freezes (上n次日冻结).

A DL/T 645-2007 meter freezes its total positive active energy at 00:00 every day (by its own clock) and keeps
the last 62 (DL/T 645-2007 appendix A, DI ``05 06 00 0n`` freeze time, ``05 06 01 0n`` frozen energy,
n = 1 … 62, n = 1 the latest). A day's consumption is the difference between two midnights, so a gap in live
readings costs resolution, never a day's total, as long as the midnights around it are read back.

Rules:
- A midnight is **missed** by a meter when no live answer came from it around that midnight: the meter's
  previous answer (remembered in the buffer, across restarts) is more than ``2 × interval_s`` before the
  present answer and the midnight lies between them. On first start (no answer remembered) every midnight of
  the last ``backfill_days`` is missed.
- Only the last ``backfill_days`` (≤ 62) midnights are read; freeze n of a midnight is its distance in days
  from today's midnight, plus one.
- A gap is remembered in the buffer (the earliest midnight missed) until its days are read, at most
  ``per_read`` days after each answer, newest first: a month of freezes on a 2400-baud bus of 64 meters would
  otherwise hold the bus for twenty minutes. A day the meter has no freeze for is asked once.
- Each freeze is buffered stamped at **its** freeze time (as the meter says, YYMMDDhhmm in the site's zone),
  and its day (the local date of the nearest midnight) is remembered in the buffer: no day is read twice.
- Protocols without freezes (DL/T 645-1997, CJ/T 188, Modbus) answer none, which is not an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from campus.model import Device, Protocol
from gateway.buffer import Buffer
from gateway.schedule import local_day, local_midnight_ms

log = logging.getLogger("meterwatch.gateway.backfill")
HALF_DAY_MS = 43_200_000

FreezeReader = Callable[[Device, Sequence[int]], list[tuple[int, dict[str, float]]]]


def has_freezes(device: Device) -> bool:
    return device.meter is not None and device.meter.protocol is Protocol.DLT645


def missed_days(last_ok_ms: int | None, now_ms: int, interval_s: int, tz: ZoneInfo, backfill_days: int) -> list[date]:
    """The local dates whose 00:00 was missed (oldest first), within the last ``backfill_days`` midnights."""
    today = local_day(now_ms, tz)
    window = [today - timedelta(days=k) for k in range(backfill_days - 1, -1, -1)]
    window = [d for d in window if local_midnight_ms(d, tz) <= now_ms]
    if last_ok_ms is None:
        return window
    if now_ms - last_ok_ms <= 2 * interval_s * 1000:
        return []
    return [d for d in window if last_ok_ms < local_midnight_ms(d, tz)]


def freeze_day(freeze_ms: int, tz: ZoneInfo) -> date:
    """The day a freeze belongs to: the date of the midnight nearest its time (a meter's clock drifts)."""
    return local_day(freeze_ms + HALF_DAY_MS, tz)


def backfill(device: Device, read: FreezeReader, buffer: Buffer, *, last_ok_ms: int | None, now_ms: int,
             tz: ZoneInfo, backfill_days: int, per_read: int = 7) -> int:
    """Read and buffer the freezes ``device`` has for its missed days, at most ``per_read`` of them; returns how
    many were buffered. Raises what ``read`` raises (nothing is marked: tried again after the next answer)."""
    if not has_freezes(device) or backfill_days <= 0:
        return 0
    key = f"backfill:{device.id}"
    pending = buffer.get(key)
    start = int(pending) if pending else None
    missed = missed_days(last_ok_ms, now_ms, device.interval_s, tz, backfill_days)
    if missed:
        first = local_midnight_ms(missed[0], tz)
        start = first if start is None else min(start, first)
        buffer.set(key, str(start))
    if start is None:
        return 0
    filled = buffer.filled_days(device.id)
    window = missed_days(None, now_ms, device.interval_s, tz, backfill_days)
    wanted = [d for d in window if local_midnight_ms(d, tz) >= start and d.isoformat() not in filled]
    if not wanted:
        buffer.set(key, "")
        return 0
    asked = wanted[-per_read:]
    today = local_day(now_ms, tz)
    got = read(device, [(today - d).days + 1 for d in asked])
    rows: list[tuple[str, int, dict[str, float] | None]] = []
    for freeze_ms, values in got:
        day = freeze_day(freeze_ms, tz).isoformat()
        if day in filled or freeze_ms > now_ms:
            continue
        filled.add(day)
        rows.append((day, freeze_ms, values))
    # the days asked that the meter had no freeze for are not asked again
    rows += [(d.isoformat(), 0, None) for d in asked if d.isoformat() not in filled]
    buffer.add_freezes(device.id, rows)
    if len(asked) == len(wanted):
        buffer.set(key, "")
    log.info("backfilled from the meter's daily freezes", extra={
        "device": device.id, "days": [r[0] for r in rows if r[2] is not None], "asked": len(asked),
        "left": len(wanted) - len(asked)})
    return sum(1 for r in rows if r[2] is not None)
