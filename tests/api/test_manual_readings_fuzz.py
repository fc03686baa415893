"""POST /readings/manual under hypothesis: any device, values, times and flags. Nothing answers 5xx; every refusal is
in words; and whatever was taken, each meter's registers read by hand, in time order, never go down except where a
replacement was declared, and every one taken is in the store with who entered it."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campus.clock import FrozenClock
from tests.support.harness import TZ, token_headers
from tests.support.manual import manual_campus
from tests.support.records import ms
from tests.support.stack import Stack

START = dt.datetime(2026, 11, 2, 8, 0, tzinfo=TZ)
DEVICES = ["m-dorm1-water", "m-boiler-elec", "m-teach-a-water", "c1-water", "ta-fountain", "nowhere", ""]
FIELDS = ["volume_m3", "energy_kwh", "flow_m3h", "power_kw", "ph", "x" * 50]
numbers = st.one_of(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12),
                    st.integers(-10, 10**11), st.sampled_from([0, 1e10, 99.5, 100.0, 250.0]))
values = st.dictionaries(st.sampled_from(FIELDS), st.one_of(numbers, st.text(max_size=5), st.booleans(), st.none()),
                         max_size=3)
FIELD = {"m-dorm1-water": "volume_m3", "m-boiler-elec": "energy_kwh", "m-teach-a-water": "volume_m3"}
plausible = st.sampled_from(sorted(FIELD)).flatmap(lambda d: st.fixed_dictionaries({
    "device": st.just(d), "values": st.fixed_dictionaries({FIELD[d]: st.floats(0, 1e7)}),
    "confirm": st.booleans(), "replacement": st.booleans()}))
anything = st.fixed_dictionaries({"device": st.sampled_from(DEVICES), "values": values}, optional={
    "site": st.sampled_from(["yucai", "mingde", "x" * 70]),
    "read_at_h": st.integers(-24 * 9, 2),
    "note": st.text(max_size=50),
    "replacement": st.booleans(),
    "confirm": st.booleans(),
})
bodies = st.one_of(plausible, anything)  # half of them a meter read by hand with its own field


@pytest.fixture(scope="module")
def client(app_stack: Callable[..., Stack], tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[tuple[TestClient, FrozenClock]]:
    stack = app_stack(manual_campus(tmp_path_factory.mktemp("campus")), name="manual-fuzz")
    clock = FrozenClock(ms(START))
    with TestClient(stack.app(clock), headers=token_headers(stack.data, "electrician", "fuzz")) as c:
        yield c, clock


def _said(answer: dict[str, Any]) -> bool:
    detail = answer.get("detail")
    return bool(detail) and (isinstance(detail, str) or isinstance(detail, list))


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_any_reading_by_hand_is_taken_or_refused_in_words(client: tuple[TestClient, FrozenClock],
                                                          body: dict[str, Any]) -> None:
    c, clock = client
    clock.advance(3600)  # an hour between requests: time moves as it does between readings
    sent = dict(body)
    hours = sent.pop("read_at_h", None)
    if hours is not None:
        sent["read_at"] = (dt.datetime.fromtimestamp(clock.now_ms() / 1000, TZ) + dt.timedelta(hours=hours)
                           ).isoformat()
    r = c.post("/api/v1/readings/manual", json=sent)
    assert r.status_code in (201, 404, 409, 422), r.text
    if r.status_code != 201:
        assert _said(r.json()), r.text
        return
    taken = r.json()
    assert taken["read_by"] == "fuzz"
    latest = c.get(f"/api/v1/devices/{taken['device']}/readings", params={
        "start": taken["read_at"], "end": (dt.datetime.fromisoformat(taken["read_at"]) + dt.timedelta(seconds=1)
                                           ).isoformat()}).json()
    assert [(x["values"], x["manual"], x["read_by"]) for x in latest["readings"]] == [(taken["values"], True, "fuzz")]


def test_registers_read_by_hand_never_go_down_but_at_a_replacement(client: tuple[TestClient, FrozenClock]) -> None:
    c, _ = client
    taken = 0
    for device in DEVICES[:3]:
        rows = sorted(c.get("/api/v1/readings/manual", params={"device": device, "limit": 1000}).json(),
                      key=lambda r: (r["read_at"], r["id"]))
        field = "energy_kwh" if device == "m-boiler-elec" else "volume_m3"
        last = -math.inf
        for row in rows:
            value = row["values"][field]
            assert value >= last or row["replacement"], (device, row)
            last = value
        taken += len(rows)
    assert taken >= 10  # the fuzzer had readings taken, not only refused