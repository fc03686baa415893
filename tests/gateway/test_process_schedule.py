"""The gateway's timing on a frozen, stepped clock: slots aligned to the site's wall clock, one thread per bus,
the days a gap missed (backfill from freezes), health messages and the daily time sync."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campus.model import Device, Meter, Protocol
from gateway.backfill import backfill, freeze_day, missed_days
from gateway.buffer import Buffer, Row
from gateway.health import MeterHealth, TimeSync
from gateway.publisher import MAX_BYTES, batches, payload
from gateway.schedule import BusSchedule, local_midnight_ms, next_slot
from tests.support.servers import wait_for

SH = ZoneInfo("Asia/Shanghai")
KOLKATA = ZoneInfo("Asia/Kolkata")  # +05:30: a zone whose hours are not UTC's


def ms(zone: ZoneInfo, *args: int) -> int:
    return int(datetime(*args, tzinfo=zone).timestamp() * 1000)  # type: ignore[misc]


@pytest.mark.parametrize(("zone", "now", "interval", "want"), [
    (SH, (2026, 12, 5, 10, 7, 3), 900, (2026, 12, 5, 10, 15)),
    (SH, (2026, 12, 5, 10, 15), 900, (2026, 12, 5, 10, 30)),         # strictly after
    (KOLKATA, (2026, 12, 5, 10, 7), 3600, (2026, 12, 5, 11, 0)),     # on the local hour, not UTC's (:30 there)
    (SH, (2026, 12, 5, 23, 50), 7 * 3600, (2026, 12, 6, 0, 0)),      # a day's last slot is cut at midnight
    (SH, (2026, 12, 5, 21, 5), 7 * 3600, (2026, 12, 6, 0, 0)),
    (SH, (2026, 12, 5, 13, 0), 86_400, (2026, 12, 6, 0, 0)),
    (SH, (2026, 12, 5, 0, 0, 1), 5, (2026, 12, 5, 0, 0, 5)),
])
def test_slots_are_aligned_to_the_sites_clock(zone: ZoneInfo, now: tuple[int, ...], interval: int,
                                              want: tuple[int, ...]) -> None:
    assert next_slot(ms(zone, *now), interval, zone) == ms(zone, *want)


class SteppedClock:
    """Frozen time that jumps to whatever a waiter waits for (no real waiting)."""

    def __init__(self, start_ms: int, until_ms: int) -> None:
        self.t = start_ms
        self.until = until_ms
        self.lock = threading.Lock()

    def now_ms(self) -> int:
        with self.lock:
            return self.t

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        with self.lock:
            self.t += int(seconds * 1000)
            if self.t >= self.until:
                stop.set()
        return stop.is_set()

    def spend(self, ms_: int) -> None:
        with self.lock:
            self.t += ms_


def elec(id_: str, interval_s: int, address: str = "000000000001") -> Device:
    return Device(id=id_, kind="electricity", building="b1", gateway="gw-1", interval_s=interval_s,  # type: ignore[arg-type]
                  meter=Meter(bus="rs485-1", protocol=Protocol.DLT645, address=address))


def test_each_meter_is_read_at_its_slots_and_a_slow_read_skips_no_one() -> None:
    start = ms(SH, 2026, 12, 5, 10, 7)
    clock = SteppedClock(start, ms(SH, 2026, 12, 5, 11, 0, 1))
    polled: list[tuple[str, int]] = []
    devices = [elec("fast", 900), elec("slow", 1800, "000000000002")]

    def poll(d: Device) -> None:
        polled.append((d.id, clock.now_ms()))
        clock.spend(3000 if d.id == "slow" else 200)  # a meter that times out costs the bus its timeout

    sched = BusSchedule("rs485-1", devices, SH, poll, clock=clock)
    sched.start()
    wait_for(lambda: not sched.alive, 10, "the schedule to reach the end of the frozen hour")
    at = [(d, datetime.fromtimestamp(t / 1000, SH).strftime("%H:%M:%S")) for d, t in polled]
    assert at == [("fast", "10:07:00"), ("slow", "10:07:00"),  # once at start, then on the slots
                  ("fast", "10:15:00"), ("fast", "10:30:00"), ("slow", "10:30:00"),
                  ("fast", "10:45:00"), ("fast", "11:00:00"), ("slow", "11:00:00")][:len(at)]
    assert len(at) == 8


def test_a_dead_bus_does_not_delay_another() -> None:
    released = threading.Event()
    polled: list[str] = []

    def stuck(d: Device) -> None:
        released.wait(10)

    def quick(d: Device) -> None:
        polled.append(d.id)

    a = BusSchedule("dead", [elec("a", 5)], SH, stuck)
    b = BusSchedule("alive", [elec("b", 1)], SH, quick)
    a.start()
    b.start()
    try:
        wait_for(lambda: len(polled) >= 3, 10, "three reads on the live bus while the other hangs")
    finally:
        released.set()
        a.stop()
        b.stop()


def test_missed_days_after_a_gap_and_on_first_start() -> None:
    now = ms(SH, 2026, 12, 5, 10, 0)
    assert [d.isoformat() for d in missed_days(None, now, 900, SH, 3)] == ["2026-12-03", "2026-12-04", "2026-12-05"]
    assert missed_days(now - 1_200_000, now, 900, SH, 31) == []  # one late answer is no gap
    # unreachable from 2 December 18:00: the midnights of the 3rd, 4th and 5th were missed
    got = missed_days(ms(SH, 2026, 12, 2, 18, 0), now, 900, SH, 31)
    assert [d.isoformat() for d in got] == ["2026-12-03", "2026-12-04", "2026-12-05"]
    assert [d.isoformat() for d in missed_days(ms(SH, 2026, 11, 1), now, 900, SH, 2)] == ["2026-12-04", "2026-12-05"]
    assert freeze_day(ms(SH, 2026, 12, 4, 23, 58), SH).isoformat() == "2026-12-05"  # a slow meter clock
    assert freeze_day(ms(SH, 2026, 12, 5, 0, 3), SH).isoformat() == "2026-12-05"


def test_backfill_reads_each_missed_freeze_once(tmp_path: Path) -> None:
    buffer = Buffer(tmp_path / "b.db")
    asked: list[list[int]] = []
    now = ms(SH, 2026, 12, 5, 10, 0)

    def freezes(d: Device, ns: Sequence[int]) -> list[tuple[int, dict[str, float]]]:
        asked.append(list(ns))
        return [(ms(SH, 2026, 12, 6 - n, 0, 0), {"energy_kwh": 100.0 - n}) for n in ns]

    dev = elec("m1", 900)
    try:
        kw = {"now_ms": now, "tz": SH, "backfill_days": 31}
        assert backfill(dev, freezes, buffer, last_ok_ms=ms(SH, 2026, 12, 2, 18), **kw) == 3  # type: ignore[arg-type]
        assert asked == [[3, 2, 1]]
        assert [(r.ts, r.values) for r in buffer.take(0, 10)] == [
            (ms(SH, 2026, 12, 3), {"energy_kwh": 97.0}), (ms(SH, 2026, 12, 4), {"energy_kwh": 98.0}),
            (ms(SH, 2026, 12, 5), {"energy_kwh": 99.0})]
        # the same gap seen again (a restart before the next answer): nothing is read twice
        assert backfill(dev, freezes, buffer, last_ok_ms=ms(SH, 2026, 12, 2, 18), **kw) == 0  # type: ignore[arg-type]
        assert asked == [[3, 2, 1]]
        water = Device(id="w1", kind="water", building="b1", gateway="gw-1",  # type: ignore[arg-type]
                       meter=Meter(bus="rs485-1", protocol=Protocol.CJT188, address="12345678901234"))
        assert backfill(water, freezes, buffer, last_ok_ms=None, **kw) == 0  # type: ignore[arg-type]
        assert asked == [[3, 2, 1]]
    finally:
        buffer.close()


def test_a_long_gap_is_read_a_few_days_at_a_time_and_each_day_once(tmp_path: Path) -> None:
    buffer = Buffer(tmp_path / "b.db")
    asked: list[list[int]] = []
    now = ms(SH, 2026, 12, 5, 10, 0)

    def freezes(d: Device, ns: Sequence[int]) -> list[tuple[int, dict[str, float]]]:
        asked.append(list(ns))  # the meter was installed on 27 November: no freeze before its first midnight
        return [(ms(SH, 2026, 12, 5) - (n - 1) * 86_400_000, {"energy_kwh": 100.0 - n}) for n in ns if n <= 9]

    dev = elec("m1", 900)
    kw = {"tz": SH, "backfill_days": 10, "per_read": 4}
    try:
        assert backfill(dev, freezes, buffer, last_ok_ms=None, now_ms=now, **kw) == 4  # type: ignore[arg-type]
        later = now + 900_000  # the next answers come on time: the gap is still being read
        assert backfill(dev, freezes, buffer, last_ok_ms=now, now_ms=later, **kw) == 4  # type: ignore[arg-type]
        assert backfill(dev, freezes, buffer, last_ok_ms=later, now_ms=later, **kw) == 1  # type: ignore[arg-type]
        assert backfill(dev, freezes, buffer, last_ok_ms=later, now_ms=later, **kw) == 0  # type: ignore[arg-type]
        assert asked == [[4, 3, 2, 1], [8, 7, 6, 5], [10, 9]]  # newest first; the 26th asked once, never again
        assert len(buffer.filled_days("m1")) == 10
        assert buffer.depth == 9
        assert not buffer.get("backfill:m1")
    finally:
        buffer.close()


def test_health_is_said_when_it_changes_and_hourly() -> None:
    h = MeterHealth("gw-1", every_s=3600)
    t0 = ms(SH, 2026, 12, 5, 10, 0)
    first = h.record("m1", "rs485-1", t0)
    assert first == {"ts": t0 // 1000, "ok": True, "code": None, "error": None, "last_answer": t0 // 1000,
                     "success_rate": 1.0, "gateway": "gw-1", "bus": "rs485-1"}
    assert h.record("m1", "rs485-1", t0 + 900_000) is None  # unchanged, said 15 min ago
    words = "no answer from 000000000001 on rs485-1 after 3 tries"
    down = h.record("m1", "rs485-1", t0 + 1_800_000, code="no_answer", error=words)
    assert down is not None
    assert (down["ok"], down["code"], down["error"], down["last_answer"]) == (False, "no_answer", words,
                                                                                (t0 + 900_000) // 1000)
    assert down["success_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert h.record("m1", "rs485-1", t0 + 2_700_000, code="no_answer", error=words) is None
    assert h.record("m1", "rs485-1", t0 + 1_800_000 + 3_600_000, code="no_answer", error=words) is not None
    # a day later the old polls are out of the rate
    later = h.record("m1", "rs485-1", t0 + 26 * 3_600_000)
    assert later is not None
    assert later["success_rate"] == 1.0


def test_time_sync_is_off_by_default_and_at_most_daily(tmp_path: Path) -> None:
    buffer = Buffer(tmp_path / "b.db")
    try:
        assert not TimeSync(False, 3, SH, buffer).due("rs485-1", ms(SH, 2026, 12, 5, 4))
        sync = TimeSync(True, 3, SH, buffer)
        assert not sync.due("rs485-1", ms(SH, 2026, 12, 5, 2, 59))
        assert sync.due("rs485-1", ms(SH, 2026, 12, 5, 3, 0))
        sync.done("rs485-1", ms(SH, 2026, 12, 5, 3, 0))
        assert not TimeSync(True, 3, SH, buffer).due("rs485-1", ms(SH, 2026, 12, 5, 22))  # after a restart too
        assert sync.due("rs485-1", ms(SH, 2026, 12, 6, 3, 1))
    finally:
        buffer.close()


# --- properties: any time, any interval, any gap ---------------------------------------------------------------

ZONES = [SH, KOLKATA, ZoneInfo("America/New_York")]  # New York: days of 23 and 25 hours
EPOCH_2020 = 1_577_836_800_000


@given(st.integers(EPOCH_2020, EPOCH_2020 + 20 * 365 * 86_400_000), st.sampled_from(
    [1, 2, 3, 5, 60, 300, 900, 1800, 3600, 7 * 3600, 86_400, 2 * 86_400, 31 * 86_400]), st.sampled_from(ZONES))
@settings(max_examples=500, deadline=None)
def test_a_slot_is_after_now_on_the_local_clock_and_never_skips_one(now: int, interval: int, zone: ZoneInfo) -> None:
    slot = next_slot(now, interval, zone)
    assert slot > now
    local = datetime.fromtimestamp(slot / 1000, zone)
    midnight = local_midnight_ms(local.date(), zone)
    if interval >= 86_400:
        assert slot == midnight
        assert slot - now <= (interval // 86_400) * 90_000_000  # whole days (a 25-hour day included)
    else:
        assert (slot - midnight) % (interval * 1000) == 0  # on the wall clock's grid from midnight
        assert slot - now <= interval * 1000
        assert next_slot(slot - 1, interval, zone) == slot  # no slot between now and this one


@given(st.one_of(st.none(), st.integers(EPOCH_2020, EPOCH_2020 + 400 * 86_400_000)),
       st.integers(EPOCH_2020 + 400 * 86_400_000, EPOCH_2020 + 800 * 86_400_000),
       st.sampled_from([60, 900, 86_400]), st.integers(0, 62), st.sampled_from(ZONES))
@settings(max_examples=300, deadline=None)
def test_missed_days_lie_in_the_gap_and_the_window(last: int | None, now: int, interval: int, days: int,
                                                   zone: ZoneInfo) -> None:
    got = missed_days(last, now, interval, zone, days)
    assert len(got) <= days
    assert got == sorted(set(got))
    for d in got:
        m = local_midnight_ms(d, zone)
        assert m <= now
        assert last is None or m > last


@given(st.lists(st.tuples(st.sampled_from(["m1", "m2", "m3"]), st.dictionaries(
    st.sampled_from(["energy_kwh", "power_kw", "voltage_v"]), st.floats(0, 1e9), min_size=1)), max_size=300),
    st.integers(1, 50))
@settings(max_examples=200, deadline=None)
def test_batches_keep_each_devices_order_and_their_limits(items: list[tuple[str, dict[str, float]]],
                                                          batch_max: int) -> None:
    rows = [Row(i + 1, d, 1_795_000_000_000 + i, v) for i, (d, v) in enumerate(items)]
    groups = batches(rows, batch_max)
    assert sorted(r.id for g in groups for r in g) == [r.id for r in rows]  # each row once
    for g in groups:
        assert 1 <= len(g) <= batch_max
        assert len({r.device for r in g}) == 1
        assert [r.id for r in g] == sorted(r.id for r in g)
        body = json.loads(payload(g))
        assert len(payload(g)) <= MAX_BYTES + 1024
        assert [x["seq"] for x in (body if isinstance(body, list) else [body])] == [r.id for r in g]
    for device in {r.device for r in rows}:  # a device's groups go out in its order
        ids = [r.id for g in groups for r in g if r.device == device]
        assert ids == sorted(ids)


@given(st.lists(st.tuples(st.integers(0, 48 * 3_600_000), st.sampled_from([None, "no_answer", "checksum"])),
                min_size=1, max_size=80))
@settings(max_examples=200, deadline=None)
def test_health_messages_keep_the_contract(polls: list[tuple[int, str | None]]) -> None:
    h = MeterHealth("gw-1", every_s=3600)
    t0 = ms(SH, 2026, 12, 5)
    for offset, code in sorted(polls, key=lambda p: p[0]):
        msg = h.record("m1", "rs485-1", t0 + offset, code=code, error=None if code is None else f"{code} words")
        if msg is None:
            continue
        assert set(msg) == {"ts", "ok", "code", "error", "last_answer", "success_rate", "gateway", "bus"}
        assert msg["ok"] is (code is None)
        assert (msg["code"] is None) is (msg["error"] is None) is msg["ok"]
        assert 0 <= msg["success_rate"] <= 1
        assert msg["last_answer"] is None or msg["last_answer"] <= msg["ts"]
