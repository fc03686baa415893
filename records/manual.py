"""A register read by hand (抄表) taken in: checked against the meter's last reading, stored like any reading, and
its metadata kept beside it.

The rules, plainly:
- The values are the fields of the meter's kind, validated by the payload contract (``campus.contract``), as a
  gateway's would be; the register field is required.
- When: the server's clock, unless ``read_at`` is given (a reading copied from a paper sheet): at most
  ``MAX_AGE_DAYS`` old and not in the future. Both times are kept (read, entered).
- A register lower than the last reading before it (or higher than the first reading after it, unless a new
  meter cycle lies between them) is refused, naming that reading and its date, unless the meter was replaced
  (``replacement``). A replaced meter's new
  register must be below 90 % of the old one's (``campus.registers.NEW_CYCLE_RATIO``): only then do the register
  rules count it as a new meter cycle rather than a dip that counts nothing.
- A rise past ``rated_capacity × elapsed hours`` (after the multiplier: the register rules' plausibility bound)
  is answered with a request to confirm (:class:`JumpToConfirm`, 409) with the numbers; sent again with
  ``confirm``, it is taken, and the register rules then flag it implausible as they would a gateway's.
- Stored through ingest's own commit (:meth:`ingest.pipeline.Pipeline.commit`): the time-series store, or the
  on-disk spool while the store is down, before anything is answered; the roll-ups' change notes are written in
  the same commit. Then its metadata row is added. The alert engine reads the broker, so the reading is handed
  to it on the meter's reading topic afterwards (:meth:`records.desk.RecordDesk.hand_on`), retried until the
  broker has it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from campus.contract import DEFAULT_LIMITS, MAX_FUTURE_S, REGISTER_FIELD, Limits, check_plausible, validate_values
from campus.errors import MeterwatchError, PayloadError
from campus.model import Device
from campus.registers import NEW_CYCLE_RATIO
from ingest.decode import Decoded, Inbound
from ingest.stores import ReadingStore
from records.context import Context, RecordRefused
from records.manual_store import ManualReadingStore, ManualRow

MAX_AGE_DAYS = 7  # a reading copied from a paper sheet: at most a week old (the rule)


class JumpToConfirm(MeterwatchError):
    """A rise past the meter's rated capacity × the elapsed hours: 409, resend with confirm to take it."""


@dataclass(frozen=True, slots=True)
class Entry:
    """What the reader sent; who is the token, entered is the server's clock."""

    values: dict[str, Any]
    read_ms: int | None = None
    note: str = ""
    photos: tuple[str, ...] = ()
    replacement: bool = False
    confirm: bool = False


def _day(ts_ms: int, ctx: Context) -> str:
    return dt.datetime.fromtimestamp(ts_ms / 1000, ctx.tz).strftime("%Y-%m-%d %H:%M")


def _g(x: float) -> str:
    return f"{x:.10g}"


def read_time(entry: Entry, now_ms: int) -> int:
    """When it was read: ``read_at`` if given (a week old at most, not in the future), else now."""
    if entry.read_ms is None:
        return now_ms
    if entry.read_ms > now_ms + MAX_FUTURE_S * 1000:
        raise RecordRefused("read_at is in the future: give the time the meter was read (or leave it out for now)")
    if entry.read_ms < now_ms - MAX_AGE_DAYS * 86_400_000:
        raise RecordRefused(f"read_at is more than {MAX_AGE_DAYS} days ago: a reading by hand is entered within "
                            f"{MAX_AGE_DAYS} days of reading it (older ones: ask the office to import them)")
    return min(entry.read_ms, now_ms)


def checked_values(dev: Device, entry: Entry, limits: Limits) -> dict[str, float]:
    try:
        values = validate_values(dev.kind, entry.values)
        check_plausible(dev.kind, values, limits, dev.rated_capacity)
    except PayloadError as exc:
        raise RecordRefused(exc.reason) from exc
    return values


def check_register(dev: Device, ctx: Context, value: float, read_ms: int, entry: Entry,
                   before: tuple[int, float] | None, after: tuple[int, float] | None) -> None:
    """The register against the readings around it (the rules in the module's docstring)."""
    field = REGISTER_FIELD[dev.kind]
    if entry.replacement:
        if before is None:
            raise RecordRefused(f"{field}: the meter has no reading before this one, so there is no old meter to "
                                "replace: send it without replacement")
        if value >= NEW_CYCLE_RATIO * before[1]:
            raise RecordRefused(
                f"{field}={_g(value)}: a replaced meter's register must be below {NEW_CYCLE_RATIO:.0%} of the old "
                f"one's last reading {_g(before[1])} ({_day(before[0], ctx)}) for the register rules to count it "
                "as a new meter (nearer, it cannot be told from a dip). Check the number; if it is right, ask the "
                "administrator to register the new meter as a device of its own")
        return
    if before is not None and value < before[1]:
        raise RecordRefused(
            f"{field}={_g(value)} is lower than the last reading {_g(before[1])} on {_day(before[0], ctx)}: a "
            "register only goes up. Check the number; if the meter was replaced, send replacement=true")
    if after is not None and value > after[1] and not (before is not None and after[1] < NEW_CYCLE_RATIO * before[1]):
        raise RecordRefused(
            f"{field}={_g(value)} is higher than the next reading {_g(after[1])} on {_day(after[0], ctx)}, taken "
            f"after {_day(read_ms, ctx)}: check the number and the time it was read")
    jump = big_jump(dev, ctx, value, read_ms, before)
    if jump is not None and not entry.confirm:
        raise JumpToConfirm(jump)


def big_jump(dev: Device, ctx: Context, value: float, read_ms: int, before: tuple[int, float] | None) -> str | None:
    """The words asking to confirm a rise past rated capacity × elapsed hours (None: no such rise)."""
    field, cap = REGISTER_FIELD[dev.kind], dev.rated_capacity
    if before is None or cap is None:
        return None
    hours = max(read_ms - before[0], 0) / 3_600_000
    rise = (value - before[1]) * dev.multiplier
    if rise <= cap * hours:
        return None
    unit, rate = ("kWh", "kW") if field == "energy_kwh" else ("m³", "m³/h")
    times = f" × multiplier {_g(dev.multiplier)}" if dev.multiplier != 1 else ""
    return (f"{field}={_g(value)}: a rise of {_g(round(rise, 3))} {unit}{times} since the last reading "
            f"{_g(before[1])} on {_day(before[0], ctx)} ({_g(round(hours, 1))} h) is more than the meter's rated "
            f"capacity {_g(cap)} {rate} × {_g(round(hours, 1))} h = {_g(round(cap * hours, 3))} {unit}. Check the "
            "number; if it is right, send it again with confirm=true")


def take(entry: Entry, *, ctx: Context, dev: Device, by: str, now_ms: int, readings: ReadingStore,
         meta: ManualReadingStore, commit: Callable[[list[Inbound]], list[Decoded]], prefix: str,
         limits: Limits = DEFAULT_LIMITS, keep: Callable[[], tuple[str, ...]] = tuple) -> ManualRow:
    """Check, store and note one reading by hand (see the module's docstring). ``commit``: ingest's commit of
    inbound messages (durable before it returns). ``keep``: keeps the photos sent with it (once it is checked,
    before it is stored) and gives their SHA-256; photos named by SHA-256 must already be the site's."""
    if dev.virtual is not None:
        raise RecordRefused(f"{dev.id} is a virtual meter ({dev.virtual}): it is computed from those meters, never "
                            "read; read them instead")
    if not dev.manual:
        how = f"gateway {dev.gateway}" if dev.gateway else "no manual: true"
        raise RecordRefused(f"{dev.id} is not read by hand (it has {how}): readings by hand are for meters marked "
                            "manual: true in the campus file or ledger")
    field = REGISTER_FIELD[dev.kind]
    if field is None:
        raise RecordRefused(f"{dev.id} is a {dev.kind.value} sensor: it has no register to read by hand")
    values = checked_values(dev, entry, limits)
    read_ms = read_time(entry, now_ms)
    site = ctx.site
    b, a = readings.around(site, dev.id, dev.kind, field, read_ms)
    before = (b.ts, b.values[field]) if b is not None and field in b.values else None
    after = (a.ts, a.values[field]) if a is not None and field in a.values else None
    if before is not None and before[0] == read_ms:  # one moment holds one reading of a meter
        same = meta.at(site, dev.id, [read_ms]).get(read_ms)
        if same is not None and same.values == values:
            return same  # the same reading sent again (a retry after a lost answer): taken once
        raise RecordRefused(f"{field}={_g(values[field])}: a reading at {_day(read_ms, ctx)} is already stored "
                            f"({_g(before[1])}), and one moment holds one reading: check the time it was read")
    check_register(dev, ctx, values[field], read_ms, entry, before, after)
    photos = list(dict.fromkeys([*entry.photos, *keep()]))
    payload = orjson.dumps({"ts": read_ms, "values": values})
    decoded = commit([Inbound(f"{prefix}/{site}/{dev.id}/reading", payload, now_ms)])
    refused = [r.reason for d in decoded for r in d.refusals]
    if refused or not any(d.readings for d in decoded):
        raise RecordRefused(f"not stored: {refused[0] if refused else 'the reading was not taken'}")
    zone = dev.zone or ctx.campus.zone_of(dev.building)
    confirmed = not entry.replacement and big_jump(dev, ctx, values[field], read_ms, before) is not None
    return meta.add(site=site, device=dev.id, kind=dev.kind.value, building=dev.building, zone=zone, ts_ms=read_ms,
                    entered_ms=now_ms, read_by=by, values=values, photos=photos, note=entry.note,
                    replacement=entry.replacement, confirmed=confirmed, last=before)
