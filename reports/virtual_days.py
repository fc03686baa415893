"""A virtual meter's day rows in the roll-ups: the expression over its terms' days (``campus.virtual``).

Each term's use of a local day is *settled* first, as every reader of the roll-ups counts it: the part of its
steps that falls inside the day (a step that crosses midnight is shared by the interpolation rule, so the day's
first step gives its earlier part to the day before and the next day's first step reaches back into this one).
The virtual meter's day is then Σ coefficient × each term's settled day, and for electricity its quarter-hour
profile likewise, slot by slot. Its row keeps no first step (``first`` is None): nothing of it reaches into
another day, so the day and month buckets of ``consumption()`` and the days of ``billing.metered`` read it as
they read any meter and get exactly the expression over its terms.

Coverage is the least of its terms': each term's readings that day ÷ the readings it owes (its interval; a meter
read by hand owes one in 31 days), the smallest of them times the readings the virtual meter owes (its own
``interval_s``) is its reading count. A term without a row that day covers nothing.

Recomputed when any term was (from the earliest day that term's new rows can reach back into) or when the
expression changed (whole).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from campus.contract import Kind
from campus.model import MAX_INTERVAL_S, Device
from reports.buckets import spread
from reports.dayrow import DayRow, slot_edges


class RowSource(Protocol):
    """Where day rows are read (``reports.rollup.Rollups``)."""

    def rows(self, device: str, start_ms: int, end_ms: int) -> tuple[list[DayRow], DayRow | None]: ...

    def profile(self, device: str, start_ms: int, end_ms: int) -> tuple[list[DayRow], DayRow | None]: ...


@dataclass(slots=True)
class Settled:
    """One meter's use of each day between ``cuts``."""

    totals: list[float]
    readings: list[int]
    last_ts: list[int]
    has_row: list[bool]
    slots: list[list[float]] | None  # electricity: each day's quarter hours


def every_ms(device: Device) -> int:
    """How often a meter owes a reading (a meter read by hand: once in 31 days)."""
    return MAX_INTERVAL_S * 1000 if device.manual else device.interval_s * 1000


def settle(rows_of: RowSource, device: str, cuts: list[int], profiled: bool) -> Settled:
    """``device``'s settled use on each day between ``cuts`` (local midnights)."""
    n = len(cuts) - 1
    lo, hi = cuts[0], cuts[-1]
    out = Settled([0.0] * n, [0] * n, [0] * n, [False] * n, None)
    index = {c: k for k, c in enumerate(cuts[:-1])}
    if not profiled:
        rows, after = rows_of.rows(device, lo, hi)
        for row in rows:
            k = index[row.day_ms]
            out.totals[k] += row.delta
            out.readings[k], out.last_ts[k], out.has_row[k] = row.readings, row.last_ts, True
            if row.first is not None:
                s, e, d = row.first
                out.totals[k] -= d
                spread(s, e, d, cuts, out.totals)
        if after is not None and after.first is not None:
            spread(*after.first, cuts, out.totals)
        return out
    quarters: list[int] = []
    offsets: list[int] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        offsets.append(len(quarters))
        quarters += slot_edges(a, b)[:-1]
    quarters.append(hi)
    offsets.append(len(quarters) - 1)
    flat = [0.0] * (len(quarters) - 1)
    prows, pafter = rows_of.profile(device, lo, hi)
    for row in prows:
        k = index[row.day_ms]
        out.readings[k], out.last_ts[k], out.has_row[k] = row.readings, row.last_ts, True
        if row.slots is not None:
            flat[offsets[k]:offsets[k] + len(row.slots)] = row.slots
        if row.first is not None and row.first[0] < row.day_ms:  # its part before the day goes to earlier days
            s, e, d = row.first
            spread(s, row.day_ms, d * (row.day_ms - s) / (e - s), quarters, flat)
    if pafter is not None and pafter.first is not None:
        spread(*pafter.first, quarters, flat)
    out.slots = [flat[offsets[k]:offsets[k + 1]] for k in range(n)]
    out.totals = [sum(day) for day in out.slots]
    return out


def virtual_rows(rows_of: RowSource, device: Device, terms: Mapping[str, float], meters: Mapping[str, Device],
                 cuts: list[int]) -> list[DayRow]:
    """The virtual meter ``device``'s rows for the days between ``cuts``: Σ coefficient × each term's settled day;
    coverage the least of its terms'. A day gets a row when a term has one or a term's use reaches into it."""
    n = len(cuts) - 1
    if n <= 0:
        return []
    profiled = device.kind is Kind.ELECTRICITY
    totals = [0.0] * n
    slots: list[list[float]] | None = None
    cover = [1.0] * n
    last = list(cuts[:-1])
    used = [False] * n
    for tid, coef in terms.items():
        term = meters[tid]
        got = settle(rows_of, tid, cuts, profiled)
        owed = every_ms(term)
        for k in range(n):
            totals[k] += coef * got.totals[k]
            day_owes = (cuts[k + 1] - cuts[k]) / owed
            cover[k] = min(cover[k], 1.0 if day_owes <= 0 else min(1.0, got.readings[k] / day_owes))
            if got.has_row[k] or got.totals[k]:
                used[k] = True
                last[k] = max(last[k], got.last_ts[k])
        if got.slots is not None:
            if slots is None:
                slots = [[0.0] * len(day) for day in got.slots]
            for k, day in enumerate(got.slots):
                target = slots[k]
                for i, v in enumerate(day):
                    target[i] += coef * v
    mine = every_ms(device)
    rows = []
    for k in range(n):
        if not used[k]:
            continue
        readings = round(cover[k] * (cuts[k + 1] - cuts[k]) / mine)
        day_slots = slots[k] if slots is not None and any(slots[k]) else None
        rows.append(DayRow(device.id, cuts[k], totals[k], readings, None, last[k], [], [], day_slots, 0.0))
    return rows
