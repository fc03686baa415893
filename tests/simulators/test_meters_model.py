"""The simulated meters without a wire: the true register, its slope, freezes at the meter's midnight,
replacement, the incomer; and the meters of a bus fed hostile bytes (hypothesis): nothing raises, and only
a well-formed request addressed to a meter is answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.protocols import cjt188, dlt645, modbus
from simulators.meters import SimulatedGateway
from simulators.meters.bus import BusMeters, collide
from simulators.meters.register import EPOCH

TZ = ZoneInfo("Asia/Shanghai")
START = datetime.combine(EPOCH, datetime.min.time(), TZ)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def campus() -> dict[str, Any]:
    def dev(i: str, kind: str, meter: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
        out = {"id": i, "kind": kind, "building": extra.pop("building", "dorm-1"), **extra}
        if meter is not None:
            out |= {"gateway": "gw-1", "meter": {"bus": "b1", **meter}}
        return out

    return {
        "site": {"id": "s1", "name": "test"},
        "buildings": [{"id": "dorm-1", "name": "1号楼", "department": "dormitory", "floor_area_m2": 5000},
                      {"id": "canteen-1", "name": "一食堂", "department": "canteen", "floor_area_m2": 3000}],
        # a bus with no way to reach it is not started here: these tests ask the meters directly
        "gateways": [{"id": "gw-1", "buses": [{"name": "b1", "tcp": "127.0.0.1:1"}]}],
        "devices": [
            dev("d-elec", "electricity", {"protocol": "dlt645", "address": "000000000001"}, initial_register=100,
                multiplier=20),
            dev("c-elec", "electricity", {"protocol": "dlt645", "address": "000000000002"},
                building="canteen-1"),
            dev("d-water", "water", {"protocol": "cjt188", "address": "00000000010000"}, initial_register=5),
            dev("pm", "electricity", {"protocol": "modbus", "unit": 7, "registers": {
                "energy_kwh": {"address": 0, "type": "uint32", "scale": 0.01}}}, building="canteen-1"),
            dev("incomer", "electricity", {"protocol": "dlt645_1997", "address": "000000000009"},
                role="incomer", building="canteen-1"),
        ],
    }


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(datetime(2025, 3, 4, 12, 0, tzinfo=TZ))


@pytest.fixture(scope="module")
def sim(clock: Clock) -> SimulatedGateway:
    return SimulatedGateway(campus(), "gw-1", now=clock)  # never started: no line is opened


def test_the_register_starts_at_its_initial_value_and_never_runs_backwards(sim: SimulatedGateway) -> None:
    meter = sim.meter("d-elec")
    assert meter.register_at(START - timedelta(days=3)) == 100
    assert meter.register_at(START) == 100
    values = [meter.register_at(START + timedelta(minutes=37 * i)) for i in range(2000)]
    assert values == sorted(values)
    assert values[-1] > 100


def test_the_same_seed_gives_the_same_campus(clock: Clock) -> None:
    t = datetime(2025, 5, 6, 19, 45, tzinfo=TZ)
    a = SimulatedGateway(campus(), "gw-1", now=clock).meter("c-elec")
    b = SimulatedGateway(campus(), "gw-1", now=clock).meter("c-elec")
    c = SimulatedGateway(campus(), "gw-1", now=clock, seed=2).meter("c-elec")
    assert a.register_at(t) == b.register_at(t) != c.register_at(t)


def test_power_is_the_slope_of_the_register(sim: SimulatedGateway) -> None:
    meter = sim.meter("c-elec")
    for t in (datetime(2025, 3, 4, 11, 7, tzinfo=TZ), datetime(2025, 3, 8, 3, 1, tzinfo=TZ)):
        values = meter.values_at(t)
        grown = meter.register_at(t + timedelta(minutes=5)) - meter.register_at(t)
        assert grown == pytest.approx(values["power_kw"] * 5 / 60, rel=1e-9)
        assert values["current_a"] == pytest.approx(
            values["power_kw"] * 1000 / (3 * values["voltage_v"] * values["power_factor"]))
    # lunch in a canteen on a school day draws more than the small hours
    assert meter.values_at(datetime(2025, 3, 4, 11, 30, tzinfo=TZ))["power_kw"] > \
        3 * meter.values_at(datetime(2025, 3, 4, 3, 0, tzinfo=TZ))["power_kw"]


def test_a_ct_meter_counts_the_secondary_side(sim: SimulatedGateway) -> None:
    """d-elec has multiplier 20: its register counts 1/20 of what the same building's load would be."""
    doc = campus()
    doc["devices"][0]["multiplier"] = 1
    plain = SimulatedGateway(doc, "gw-1", now=sim.now).meter("d-elec")
    t = datetime(2025, 4, 1, tzinfo=TZ)
    assert sim.meter("d-elec").register_at(t) - 100 == pytest.approx((plain.register_at(t) - 100) / 20)


def test_the_incomer_sees_every_main_meter_and_the_losses(sim: SimulatedGateway) -> None:
    t0, t1 = datetime(2025, 3, 4, tzinfo=TZ), datetime(2025, 3, 5, tzinfo=TZ)
    mains = sum(sim.meter(d).register_at(t1) - sim.meter(d).register_at(t0) for d in ("c-elec", "pm"))
    mains += 20 * (sim.meter("d-elec").register_at(t1) - sim.meter("d-elec").register_at(t0))
    incomer = sim.meter("incomer")
    assert incomer.register_at(t1) - incomer.register_at(t0) == pytest.approx(mains * 1.04)


def test_freezes_and_a_replacement(clock: Clock) -> None:
    sim = SimulatedGateway(campus(), "gw-1", now=clock)
    meter = sim.meter("d-water")
    clock.at = datetime(2025, 3, 10, 0, 0, 30, tzinfo=TZ)
    meter.drift(60)  # a minute fast: its day began a minute before ours
    stamp, value = meter.freeze(1)
    assert stamp == datetime(2025, 3, 10, tzinfo=TZ)
    assert value == meter.register_at(datetime(2025, 3, 9, 23, 59, tzinfo=TZ))
    assert meter.freeze(62)[0] == datetime(2025, 1, 8, tzinfo=TZ)
    with pytest.raises(ValueError, match="1 … 62"):
        meter.freeze(63)
    meter.drift(-60)  # a minute slow: at 00:00:30 its clock still shows yesterday
    assert meter.freeze(1)[0] == datetime(2025, 3, 9, tzinfo=TZ)
    meter.replace("00000000020000")
    assert meter.address == "00000000020000"
    assert meter.register_at(clock.at) == 0
    assert meter.freeze(1)[1] == 0.0
    clock.at += timedelta(days=2)
    assert meter.freeze(1)[1] == pytest.approx(meter.register_at(datetime(2025, 3, 11, 0, 1, tzinfo=TZ)))
    assert meter.faults()["replaced"]
    with pytest.raises(ValueError, match="finite"):
        meter.slow(float("nan"))


def test_collisions_are_garbage() -> None:
    a = dlt645.address_answer("000000000001")
    b = dlt645.address_answer("000000000002")
    assert collide([a]) == a
    both = collide([a, b])
    assert len(both) == len(a)
    assert not any(isinstance(f, dlt645.Frame) for f in dlt645.Deframer().feed(both))


def test_unknown_gateway_and_protocol_say_what_to_fix() -> None:
    with pytest.raises(ValueError, match="no gateway 'gw-9'"):
        SimulatedGateway(campus(), "gw-9")
    doc = campus()
    doc["gateways"][0]["buses"].append({"name": "dtu-4", "mqtt": {"up": "u", "down": "d"}})
    with pytest.raises(ValueError, match="give the broker"):
        SimulatedGateway(doc, "gw-1")


FUZZED = SimulatedGateway(campus(), "gw-1", now=lambda: datetime(2025, 3, 4, 12, 0, tzinfo=TZ))
VALID = [
    dlt645.read_request("000000000001", 0x00010000),
    dlt645.read_request("000000000009", 0x9010, version=1997),
    dlt645.broadcast_time_request(datetime(2025, 3, 4, 12, 0)),
    cjt188.read_request(0x10, "00000000010000"),
    modbus.rtu_request(7, modbus.Block(3, 0, 2)),
]


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=40), st.sampled_from(VALID),
                          st.sampled_from(VALID).map(lambda v: v[: len(v) // 2])), max_size=6))
def test_hostile_bytes_never_break_a_bus(chunks: list[bytes]) -> None:
    """One bus for every example: what a deframer holds from one example is the next one's noise."""
    bus = FUZZED.buses["b1"]
    seen: list[Any] = []
    bus.on_request = seen.append
    requests = bus.counters["requests"]
    answers = [a for chunk in chunks for a in bus.receive(chunk)]
    assert bus.counters["errors"] == 0
    assert len(answers) <= bus.counters["requests"] - requests
    for delay, answer in answers:
        assert delay == pytest.approx(0.03)
        assert answer
    assert all(isinstance(f, dlt645.Frame | cjt188.Frame | modbus.RtuFrame) for f in seen)


def test_a_bus_of_every_protocol_answers_each_in_its_own_frames() -> None:
    sim = SimulatedGateway(campus(), "gw-1", now=lambda: datetime(2025, 3, 4, 4, 0, tzinfo=UTC))
    bus: BusMeters = sim.buses["b1"]
    (_, a), = bus.receive(VALID[0])
    (frame,) = dlt645.Deframer().feed(a)
    assert dlt645.decode_answer(frame, 0x00010000) == pytest.approx(
        sim.meter("d-elec").register_at(datetime(2025, 3, 4, 4, 0, tzinfo=UTC)), abs=0.006)
    (_, a), = bus.receive(VALID[3])
    (frame,) = cjt188.Deframer().feed(a)
    assert isinstance(frame, cjt188.Frame)
    (_, a), = bus.receive(VALID[4])
    (frame,) = modbus.RtuDeframer().feed(a)
    assert isinstance(frame, modbus.RtuFrame)
    assert bus.receive(VALID[2]) == []  # a broadcast time is answered by nobody
