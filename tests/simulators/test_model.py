from __future__ import annotations

import datetime as dt
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from campus.model import load_campus
from campus.registers import Flag, consumption
from simulators.calendar import DayType, SchoolCalendar
from simulators.model import Simulation, load_campus_doc
from tests.support.paths import SAMPLE

TZ = ZoneInfo("Asia/Shanghai")


def _sim(faults: list[str] | None = None, days: int = 2, seed: int = 1) -> Simulation:
    start = datetime(2026, 11, 16, tzinfo=TZ)  # a Monday in the autumn term
    return Simulation(load_campus_doc(SAMPLE), start=start, end=start + timedelta(days=days), seed=seed,
                      faults=faults)


def test_calendar() -> None:
    cal = SchoolCalendar(load_campus_doc(SAMPLE)["calendar"])
    assert cal.day_type(dt.date(2026, 11, 18)) is DayType.SCHOOL_DAY
    assert cal.day_type(dt.date(2026, 11, 21)) is DayType.WEEKEND
    assert cal.day_type(dt.date(2026, 10, 1)) is DayType.HOLIDAY       # National Day
    assert cal.day_type(dt.date(2026, 8, 1)) is DayType.VACATION
    assert cal.day_type(dt.date(2026, 2, 10)) is DayType.VACATION      # winter vacation


def test_deterministic_for_a_seed() -> None:
    a = [p.payload for p in _sim(["malformed"], days=1).publications()]
    assert a == [p.payload for p in _sim(["malformed"], days=1).publications()]
    assert a != [p.payload for p in _sim(["malformed"], days=1, seed=2).publications()]


def test_normal_days_have_clean_registers_and_meal_peaks() -> None:
    sim = _sim()
    campus = {d.id: d for d in load_campus(SAMPLE).devices}
    by_dev: dict[str, list[tuple[int, float]]] = {}
    gas_by_hour: dict[int, float] = {}
    for p in sim.publications():
        for ts, v in p.readings:
            reg = v.get("energy_kwh", v.get("volume_m3"))
            if reg is not None:
                by_dev.setdefault(p.device, []).append((ts, reg))
            if p.device == "c1-gas":
                hour = datetime.fromtimestamp(ts / 1000, TZ).hour
                gas_by_hour[hour] = gas_by_hour.get(hour, 0) + v["flow_m3h"]
    for dev, points in by_dev.items():
        c = consumption(points, multiplier=campus[dev].multiplier, rated_capacity=campus[dev].rated_capacity)
        assert not c.flagged, dev
    assert gas_by_hour[12] > 5
    assert gas_by_hour[3] == 0


@pytest.mark.parametrize(("fault", "flag"), [("meter_replaced", Flag.NEW_CYCLE),
                                             ("implausible_jump", Flag.IMPLAUSIBLE)])
def test_register_faults_show_in_the_register_rules(fault: str, flag: Flag) -> None:
    sim = _sim([fault])
    target = sim.faults[0].device
    device = next(d for d in load_campus(SAMPLE).devices if d.id == target)
    points = [(ts, v.get("energy_kwh", v.get("volume_m3", 0))) for p in sim.publications() if p.device == target
              for ts, v in p.readings]
    c = consumption(points, multiplier=device.multiplier, rated_capacity=device.rated_capacity)
    assert [s.flag for s in c.flagged] == [flag]


def test_water_leak_means_night_flow() -> None:
    sim = _sim(["water_leak"])
    target = sim.faults[0].device
    night = [v["flow_m3h"] for p in sim.publications() if p.device == target for ts, v in p.readings
             if 2 <= datetime.fromtimestamp(ts / 1000, TZ).hour < 4]
    assert night
    assert min(night) > 0.3


def test_unknown_fault_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        _sim(["earthquake"])
