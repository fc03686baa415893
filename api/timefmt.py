"""Times on the HTTP boundary: RFC 3339 in the site's timezone; intervals like 15m, 1h, 1d."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload
from zoneinfo import ZoneInfo

from fastapi import HTTPException

from campus.durations import parse_seconds

_LONGEST_S = 100 * 366 * 86400
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


@overload
def from_ms(ms: int, tz: ZoneInfo) -> datetime: ...


@overload
def from_ms(ms: None, tz: ZoneInfo) -> None: ...


@overload
def from_ms(ms: int | None, tz: ZoneInfo) -> datetime | None: ...


def from_ms(ms: int | None, tz: ZoneInfo) -> datetime | None:
    """An instant (epoch ms) in ``tz``; None stays None."""
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).astimezone(tz)


def at_ms(ms: int, tz: ZoneInfo) -> datetime:
    """An instant (epoch ms) in ``tz``."""
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(tz)


def parse_interval(text: str) -> int:
    """'15m' → 900 seconds, in the one duration grammar (``campus.durations``); bare numbers are seconds. A whole
    number of seconds from 1 s to 100 years, else 422."""
    bare = text.strip()
    try:
        seconds = float(bare) if bare.isdigit() and len(bare) <= 12 else parse_seconds(bare[:64])
    except ValueError:
        seconds = 0.0
    if not (1 <= seconds <= _LONGEST_S) or seconds != int(seconds) or len(bare) > 64:
        raise HTTPException(422, f"interval={text!r}: use a duration like 15m, 1h or 1d")
    return int(seconds)
