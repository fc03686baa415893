"""Each condition plug-in on hand-made readings (times in Asia/Shanghai)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.conditions import CONDITIONS, Env, Sample, Verdict
from alerts.conditions.base import Condition, State
from alerts.schedule import Schedule
from campus.calendar import CampusCalendar
from campus.contract import Kind, Reading
from campus.model import load_campus
from campus.registers import RegisterTrack
from tests.support.paths import SAMPLE

TZ = ZoneInfo("Asia/Shanghai")
CAMPUS = load_campus(SAMPLE)
ENV = Env(CAMPUS, CampusCalendar(CAMPUS.calendar), {"open": Schedule(hours=["06:00-20:00"])}, TZ)
DEV = {d.id: d for d in CAMPUS.devices}


def cond(**params: object) -> Condition:
    return CONDITIONS[str(params["type"])].model_validate(params)


class Feed:
    """Readings of one device through a condition, with register steps as the engine makes them."""

    def __init__(self, condition: Condition, device: str) -> None:
        self.c, self.dev, self.state = condition, DEV[device], {}  # type: ignore[var-annotated]
        self.track: RegisterTrack | None = None

    def __call__(self, at: datetime, **values: float) -> Verdict | None:
        ts = int(at.timestamp() * 1000)
        step = None
        reg = values.get("energy_kwh", values.get("volume_m3"))
        if reg is not None:
            if self.track is None:
                self.track = RegisterTrack(ts, reg, multiplier=self.dev.multiplier,
                                           rated_capacity=self.dev.rated_capacity)
            else:
                step = self.track.step(ts, reg)
        r = Reading(self.dev.id, ts, self.dev.kind, "yucai", self.dev.building, "x", "z", values, None)
        dept = next(b.department.value for b in CAMPUS.buildings if b.id == self.dev.building)
        obs = self.c.observe(Sample(self.dev, r, TZ, step, dept), self.state, ENV)
        self.last = obs
        return None if obs is None else obs.verdict


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=TZ)


def test_threshold_band_with_hysteresis() -> None:
    f = Feed(cond(type="threshold", field="ph", outside=[6.5, 8.5], clear_margin=0.1), "ta-fountain")
    assert f(at(10, 9), ph=7.0) is Verdict.CLEAR
    assert f(at(10, 9, 10), ph=8.6) is Verdict.FIRING
    assert f.last is not None
    assert f.last.limit == "6.5–8.5"
    assert f(at(10, 9, 20), ph=8.45) is Verdict.HOLD       # inside the limits, not by the margin
    assert f(at(10, 9, 30), ph=8.3) is Verdict.CLEAR
    assert f(at(10, 9, 40), temperature_c=20) is None       # the field is not in this reading
    below = Feed(cond(type="threshold", field="temperature_c", below=50), "c1-heater")
    assert below(at(10, 9), temperature_c=49.9) is Verdict.FIRING


@pytest.mark.parametrize("params", [
    {"type": "threshold", "field": "ph"},
    {"type": "threshold", "field": "ph", "above": 1, "below": 0},
    {"type": "threshold", "field": "nope", "above": 1},
    {"type": "threshold", "field": "ph", "outside": [8, 7]},
    {"type": "consumption_window", "above": 1},
])
def test_bad_parameters_are_refused(params: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="."):
        cond(**params)


def test_consumption_window_rolling_and_since_midnight() -> None:
    hourly = Feed(cond(type="consumption_window", window="1h", above=10), "c1-water")
    assert hourly(at(10, 10), volume_m3=100) is None
    for i, v in enumerate([103, 106, 109]):
        assert hourly(at(10, 10, 15 * (i + 1)), volume_m3=v) is Verdict.CLEAR
    assert hourly(at(10, 11), volume_m3=112) is Verdict.FIRING  # 12 m³ in the last hour
    assert hourly(at(10, 11, 45), volume_m3=113) is Verdict.CLEAR  # the old steps left the window
    daily = Feed(cond(type="consumption_window", since="midnight", above=5), "c1-water")
    daily(at(10, 23), volume_m3=100)
    assert daily(at(10, 23, 30), volume_m3=104) is Verdict.CLEAR
    assert daily(at(11, 0, 30), volume_m3=108) is Verdict.CLEAR   # a new day starts from zero
    assert daily(at(11, 1), volume_m3=110) is Verdict.FIRING


def test_continuous_flow_judges_each_night_once() -> None:
    f = Feed(cond(type="continuous_flow", during="02:00-04:00"), "d1-water")
    t = at(10, 1, 45)
    verdicts = []
    for i in range(12):  # 01:45 … 04:30, flow never below 0.3
        verdicts.append(f(t + timedelta(minutes=15 * i), volume_m3=50 + i, flow_m3h=0.3 + 0.01 * i))
    assert [v for v in verdicts if v is not None] == [Verdict.FIRING]
    assert f.last is None
    # the next night the flow falls to zero once: clear
    n2 = [f(at(11, 2) + timedelta(minutes=15 * i), volume_m3=70, flow_m3h=0.0 if i == 3 else 0.2)
          for i in range(1, 10)]
    assert [v for v in n2 if v is not None] == [Verdict.CLEAR]


def test_continuous_flow_needs_enough_of_the_night() -> None:
    f = Feed(cond(type="continuous_flow", during="02:00-04:00"), "d1-water")
    f(at(10, 2, 15), volume_m3=1, flow_m3h=0.5)
    assert f(at(10, 4, 15), volume_m3=2, flow_m3h=0.5) is None  # one reading of eight: no judgement


def test_closed_use_uses_the_schedule_and_register_rate() -> None:
    f = Feed(cond(type="closed_use", open="open", tolerance=0.2), "c1-gas")
    f(at(10, 19, 30), volume_m3=1000)
    assert f(at(10, 19, 45), volume_m3=1005) is Verdict.CLEAR   # open until 20:00
    assert f(at(10, 20, 15), volume_m3=1005.02) is Verdict.CLEAR  # 0.04 m³/h: meter creep
    assert f(at(10, 20, 30), volume_m3=1006) is Verdict.FIRING   # 3.9 m³/h while closed
    assert f.last is not None
    assert f.last.unit == "m³/h"
    assert f.last.value == pytest.approx(3.92)


def test_power_step_fires_holds_and_clears() -> None:
    f = Feed(cond(type="power_step", step=1.5), "d1-r101")
    assert f(at(10, 19, 55), energy_kwh=1, power_kw=0.35) is None
    assert f(at(10, 20), energy_kwh=1.03, power_kw=0.4) is Verdict.CLEAR
    assert f(at(10, 20, 5), energy_kwh=1.2, power_kw=2.2) is Verdict.FIRING
    assert f(at(10, 20, 10), energy_kwh=1.4, power_kw=2.1) is Verdict.HOLD
    assert f(at(10, 20, 15), energy_kwh=1.6, power_kw=0.4) is Verdict.CLEAR


def test_register_anomaly_flags_a_new_cycle_and_a_jump() -> None:
    f = Feed(cond(type="register_anomaly"), "d2-water")
    f(at(10, 10), volume_m3=21000)
    assert f(at(10, 10, 15), volume_m3=21001) is Verdict.CLEAR
    assert f(at(10, 10, 30), volume_m3=0.5) is Verdict.FIRING
    assert f.last is not None
    assert "new meter cycle" in f.last.detail
    assert f(at(10, 10, 45), volume_m3=80_000) is Verdict.FIRING
    assert f.last is not None
    assert "implausible" in f.last.detail


def test_stale_by_silence_and_by_last_will() -> None:
    c = cond(type="stale", intervals=3)
    state: State = {}
    dev = DEV["of-water"]  # 900 s interval
    r = Reading(dev.id, int(at(10, 10).timestamp() * 1000), Kind.WATER, "yucai", "office", "office", "z",
                {"volume_m3": 1.0}, None)
    assert c.observe(Sample(dev, r, TZ, None, "office"), state, ENV).verdict is Verdict.CLEAR  # type: ignore[union-attr]
    assert c.tick(dev, state, r.ts + 44 * 60_000, ENV, r.ts) is None
    obs = c.tick(dev, state, r.ts + 46 * 60_000, ENV, r.ts)
    assert obs is not None
    assert obs.verdict is Verdict.FIRING
    assert obs.value == 46
    assert c.status(False, r.ts, state).verdict is Verdict.FIRING  # type: ignore[union-attr]
    assert c.status(True, r.ts, state) is None


def test_baseline_compares_the_same_hour_and_weekday() -> None:
    f = Feed(cond(type="baseline", factor=2, weeks=4, min_weeks=2), "of-elec")
    reg = 1000.0
    verdicts = []
    for week in range(4):
        base = at(2, 10) + timedelta(weeks=week)  # Mondays 10:00-11:15, 10 kWh (×20) per hour normally
        use = 1.5 if week == 3 else 0.5            # week 4: three times the usual
        for q in range(6):
            reg += use / 4 if q else 0
            verdicts.append(f(base + timedelta(minutes=15 * q), energy_kwh=reg))
    judged = [v for v in verdicts if v is not None]
    assert judged[-1] is Verdict.FIRING
    assert Verdict.FIRING not in judged[:-1]


def test_budget_projects_the_month_from_its_data() -> None:
    f = Feed(cond(type="budget", kind="electricity", target=1000, min_elapsed="2d"), "of-elec")
    reg = 100.0
    out = []
    for h in range(0, 24 * 4):  # 4 days, 0.6 kWh/h on the register ×20 = 12 kWh/h → 8,928 kWh projected
        out.append(f(at(1, 0) + timedelta(hours=h), energy_kwh=reg))
        reg += 0.6
    assert out[: 47] == [None] * 47
    assert out[-1] is Verdict.FIRING
    assert f.last is not None
    assert f.last.value == pytest.approx(12 * 24 * 4, rel=0.02)  # the month's use so far
    assert f.last.detail.startswith("projected to month end: ")
    assert float(f.last.detail.split(": ")[1]) == pytest.approx(12 * 24 * 31, rel=0.02)
