"""The night minimum flow rising (``night_min_rise``, rule ``night-min-rise``): a hidden 0.2 m³/h leak added to
dormitory 1's water meter in the simulated campus is told at 02:15 of its first night, before the night-leak rule
judges 02:00-04:00 at 04:00; a normal month raises neither (tests/alerts/test_default_rules.py runs the month with
every default rule, this one included)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from alerts.conditions.night_min import NightMinimumRise
from alerts.engine import Engine, Transition
from alerts.rules import RuleBook, load_rules
from campus.clock import StreamClock
from campus.model import load_campus
from campus.registry import Registry
from ingest.decode import Inbound, decode
from simulators.model import Publication, Simulation, load_campus_doc
from tests.support.drive import local
from tests.support.paths import SAMPLE

LEAK_M3H = 0.2


def with_leak(pubs: Iterable[Publication], device: str, since: datetime, m3h: float) -> Iterator[Publication]:
    """``pubs`` with ``m3h`` more through ``device`` from ``since``: its register rises by m3h × the hours since."""
    since_ms = int(since.timestamp() * 1000)
    for p in pubs:
        if p.device != device or p.what != "reading" or p.ts_ms <= since_ms:
            yield p
            continue
        body = json.loads(p.payload)
        extra = m3h * (p.readings[0][0] - since_ms) / 3_600_000
        body["values"]["volume_m3"] = round(body["values"]["volume_m3"] + extra, 4)
        body["values"]["flow_m3h"] = round(body["values"]["flow_m3h"] + m3h, 4)
        yield Publication(p.ts_ms, p.topic, json.dumps(body).encode(), p.device, readings=p.readings)


def run(pubs: Iterable[Publication], start_ms: int, device: str = "d1-water") -> list[Transition]:
    """The default rules over ``device``'s publications in process, on stream time (as
    tests.support.drive.run_engine, one meter only so that it is quick); its transitions."""
    campus = load_campus(SAMPLE)
    registry = Registry(Path(tempfile.mkdtemp(prefix="mw-night-")) / "meterwatch.db")
    registry.seed(campus)
    engine = Engine(RuleBook(load_rules(), campus), watching_since_ms=start_ms)
    clock = StreamClock(start_ms)
    out: list[Transition] = []
    last_tick = start_ms
    try:
        for pub in pubs:
            if pub.device != device:
                continue
            d = decode(Inbound(pub.topic, pub.payload, pub.ts_ms), registry, "campus")
            for r in d.readings:
                clock.saw(r.ts)
                out += engine.reading(r)
            for (_, device), online in d.statuses:
                out += engine.status(device, online, pub.ts_ms)
            if clock.now_ms() - last_tick >= 60_000:
                last_tick = clock.now_ms()
                out += engine.tick(last_tick)
    finally:
        registry.close()
    return [t for t in out if t.subject == device]


def one_meter(start: datetime, hours: int, device: str, faults: list[str]) -> Simulation:
    """The sample campus simulated for ``device`` alone (what the others publish does not touch its rules)."""
    doc = load_campus_doc(SAMPLE)
    doc["devices"] = [d for d in doc["devices"] if d["id"] == device]
    return Simulation(doc, start=start, end=start + timedelta(hours=hours), seed=7, faults=faults)


def test_a_hidden_leak_rises_the_night_minimum_before_the_night_leak_rule_fires() -> None:
    # 12 days of term from Monday 14 September 2026: 10 dry nights make dormitory 1's usual night (0 m³/h), then a
    # 0.2 m³/h leak from Wednesday 23 September 15:00
    sim = one_meter(local(2026, 9, 14), 12 * 24, "d1-water", [])
    leak = datetime(2026, 9, 23, 15, tzinfo=local(2026, 9, 14).tzinfo)
    raised = [t for t in run(with_leak(sim.publications(), "d1-water", leak, LEAK_M3H), sim.start_ms)
              if t.kind == "raise"]
    assert {(t.rule.id, t.subject) for t in raised} == {("night-min-rise", "d1-water"), ("night-leak", "d1-water")}
    first = {t.rule.id: t for t in reversed(raised)}
    rise, night_leak = first["night-min-rise"], first["night-leak"]
    # the night of 24 September: hours 00 and 01 each flow 0.2 m³/h, judged when 02:00-02:15 closes hour 01
    assert local(2026, 9, 24, 2).timestamp() * 1000 < rise.ts <= local(2026, 9, 24, 2).timestamp() * 1000 + 900_000
    # the night-leak rule judges 02:00-04:00 at the first reading after 04:00
    assert night_leak.ts == local(2026, 9, 24, 4).timestamp() * 1000
    assert rise.ts < night_leak.ts
    assert rise.obs.value == pytest.approx(LEAK_M3H, abs=0.001)
    assert rise.obs.texts is not None
    assert "高于平日 0.000 m³/h" in rise.obs.texts["detail"].zh
    assert rise.rule.category == "energy"


def test_a_leak_there_from_the_start_is_the_usual_not_a_rise() -> None:
    """A meter that has always flowed at night has no rise to tell (the night-leak rule is the one for it)."""
    sim = one_meter(local(2026, 9, 14), 9 * 24, "d1-water", ["water_leak"])
    assert not [t for t in run(sim.publications(), sim.start_ms) if t.rule.id == "night-min-rise"]


@pytest.mark.parametrize("bad", [{"during": "00:30-05:00"}, {"during": "00:00-01:00", "judge_after": 2},
                                 {"min_nights": 30, "usual_nights": 28}, {"rise": 0}])
def test_bad_parameters_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        NightMinimumRise(**bad)  # type: ignore[arg-type]


@given(st.integers(0, 23), st.integers(0, 23), st.integers(1, 24))
def test_a_night_loads_exactly_when_judge_after_fits_in_it(a: int, b: int, after: int) -> None:
    night = (b - a) % 24
    if a == b or after > night:
        with pytest.raises(ValidationError):
            NightMinimumRise(during=f"{a:02d}:00-{b:02d}:00", judge_after=after)
    else:
        assert NightMinimumRise(during=f"{a:02d}:00-{b:02d}:00", judge_after=after).judge_after == after
