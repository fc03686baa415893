"""Local-time bucket edges (hour, day, month) and how a step of consumption is spread over them.

Edges are epoch milliseconds of local wall-clock boundaries in the campus time zone, so a
"day" is a school day in Asia/Shanghai, not a UTC day.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class Interval(StrEnum):
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def floor(at: datetime, interval: Interval, tz: ZoneInfo) -> datetime:
    local = at.astimezone(tz)
    if interval is Interval.HOUR:
        return local.replace(minute=0, second=0, microsecond=0)
    if interval is Interval.DAY:
        return local.replace(hour=0, minute=0, second=0, microsecond=0)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next(at: datetime, interval: Interval, tz: ZoneInfo) -> datetime:
    if interval is Interval.HOUR:  # hours in UTC steps, so a DST change gives 23 or 25 buckets, not a gap
        return (at.astimezone(ZoneInfo("UTC")) + timedelta(hours=1)).astimezone(tz)
    if interval is Interval.DAY:
        return datetime.combine(at.date() + timedelta(days=1), time(), tz)
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    return datetime(year, month, 1, tzinfo=tz)


def edges(start: datetime, end: datetime, interval: Interval, tz: ZoneInfo) -> list[int]:
    """Bucket edges covering [start, end), rounded out to whole buckets: n buckets have n + 1 edges."""
    at = floor(start, interval, tz)
    out = [ms(at)]
    end_ms = ms(end)
    while out[-1] < end_ms:
        at = _next(at, interval, tz)
        out.append(ms(at))
    if len(out) == 1:
        out.append(ms(_next(at, interval, tz)))
    return out


def day_edges(start_ms: int, end_ms: int, tz: ZoneInfo) -> list[int]:
    """Local midnights from the day holding ``start_ms`` to the first one after ``end_ms``."""
    utc = ZoneInfo("UTC")
    return edges(datetime.fromtimestamp(start_ms / 1000, utc), datetime.fromtimestamp(end_ms / 1000 + 1, utc),
                 Interval.DAY, tz)


def spread(start_ms: int, end_ms: int, amount: float, cuts: list[int], out: list[float]) -> None:
    """Add ``amount``, used evenly over [start, end), to the buckets between ``cuts`` (interpolation at
    each boundary: the register is taken to rise linearly between two readings). Parts outside are dropped."""
    if end_ms <= start_ms:
        k = bisect_right(cuts, end_ms - 1) - 1
        if 0 <= k < len(out):
            out[k] += amount
        return
    span = end_ms - start_ms
    k = max(bisect_right(cuts, start_ms) - 1, 0)
    while k < len(out) and cuts[k] < end_ms:
        overlap = min(end_ms, cuts[k + 1]) - max(start_ms, cuts[k])
        if overlap > 0:
            out[k] += amount * overlap / span
        k += 1
