"""Times on the HTTP boundary: RFC 3339 in the site's timezone; intervals like 15m, 1h, 1d."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fastapi import HTTPException

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # meterwatch's data: readings before 2000 are refused at ingest
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def bounded(dt: datetime, tz: ZoneInfo) -> datetime:
    """An instant on the HTTP boundary: local when it has no offset, and between 2000 and 2100 (else 422)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    try:
        inside = EARLIEST <= dt < LATEST
    except (OverflowError, ValueError):
        inside = False
    if not inside:
        raise HTTPException(422, f"{dt.isoformat()}: times must lie between 2000-01-01 and 2100-01-01")
    return dt


def to_ms(dt: datetime, tz: ZoneInfo) -> int:
    return int(bounded(dt, tz).timestamp() * 1000)


def from_ms(ms: int | None, tz: ZoneInfo) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).astimezone(tz)


def at_ms(ms: int, tz: ZoneInfo) -> datetime:
    """An instant (epoch ms) in ``tz``."""
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(tz)


def parse_interval(text: str) -> int:
    """'15m' → 900 seconds. Bare numbers are seconds."""
    m = re.fullmatch(r"\s*(\d{1,9})\s*([smhdw]?)\s*", text)
    if not m or int(m.group(1)) == 0 or int(m.group(1)) * _UNITS[m.group(2) or "s"] > 100 * 366 * 86400:
        raise HTTPException(422, f"interval={text!r}: use a duration like 15m, 1h or 1d")
    return int(m.group(1)) * _UNITS[m.group(2) or "s"]
