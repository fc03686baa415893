"""Comparisons with data missing: when the period compared with (yesterday's same hours, last year's same days)
has incomplete data, the console shows "—" and which period is incomplete with its coverage, never a percentage
or a sum read off part of the period. The threshold is the API's ``complete_at`` ([report] completeness_min)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Browser, Page

from simulators.model import Simulation, load_campus_doc
from tests.support.console import open_page
from tests.support.drive import inbound
from tests.support.harness import TZ, token_headers
from tests.support.paths import SAMPLE
from tests.support.servers import serving
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


@dataclass
class Server:
    base: str
    token: str
    hour: int  # the site's hour when the data was made


@pytest.fixture(scope="module")
def server(app_stack: Callable[..., Stack]) -> Iterator[Server]:
    now = datetime.now(TZ)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    # yesterday's data starts halfway through the hours today is compared over (the complete ones, from 00:00)
    since = midnight - timedelta(days=1) + timedelta(hours=now.hour / 2)
    campus = load_campus_doc(SAMPLE)
    recent = Simulation(campus, start=since, end=now, seed=5)
    first = midnight.replace(day=1)  # last year: the first six hours of this month's 1st, nothing after
    last_year = first.replace(year=first.year - 1)
    old = Simulation(campus, start=last_year, end=last_year + timedelta(hours=6), seed=6)
    batch = sorted(inbound(old.publications()) + inbound(recent.publications()), key=lambda m: m.received_ms)
    stack = app_stack(SAMPLE, batch, name="comparisons", evaluate=False)
    token = token_headers(stack.data, "admin", "zhang")["Authorization"].split()[1]
    with serving(stack.app()) as base:
        yield Server(base, token, now.hour)


@pytest.fixture(params=["zh-CN", "en"])
def page(browser: Browser, server: Server, request: pytest.FixtureRequest) -> Iterator[Page]:
    pg, errors = open_page(browser, "desk")
    pg.add_init_script(f"localStorage.setItem('mw-lang', '{request.param}')")
    pg.goto(f"{server.base}/#token={server.token}")
    pg.wait_for_selector("body[data-shown=overview]")
    yield pg
    pg.context.close()
    assert not errors, errors


def test_consumption_says_when_a_period_counts_as_complete(server: Server) -> None:
    with httpx.Client(base_url=server.base, timeout=30,
                      headers={"Authorization": f"Bearer {server.token}"}) as client:
        body = client.get("/api/v1/consumption", params={"group_by": "site", "interval": "hour"}).json()
    assert body["complete_at"] == 0.9  # [report] completeness_min


def test_today_against_an_incomplete_yesterday_is_a_dash_with_its_coverage(server: Server, page: Page) -> None:
    en = page.evaluate("localStorage.getItem('mw-lang')") == "en"
    for kind in ("electricity", "water"):
        delta = page.inner_text(f".kpi[data-kind={kind}] .delta")
        assert "%" not in delta.split("·")[0], delta  # no percentage against half a day
        assert delta.startswith("—"), delta
        if datetime.now(TZ).hour == 0:  # no hour of today is complete yet: nothing is compared
            continue
        why = "yesterday's data incomplete" if en else "昨日数据不全"
        assert why in delta or ("no data yesterday" if en else "昨日无数据") in delta, delta
        coverage = page.get_attribute(f".kpi[data-kind={kind}] .gap", "data-coverage")
        assert coverage is not None
        assert 0 < int(coverage) < 90 or (why not in delta and int(coverage) == 0), delta


def test_last_year_with_six_hours_of_data_is_a_dash_not_a_sum(server: Server, page: Page) -> None:
    en = page.evaluate("localStorage.getItem('mw-lang')") == "en"
    page.evaluate("delete document.body.dataset.shown")
    page.goto(f"{server.base}/#building/canteen-1")
    page.wait_for_selector("body[data-shown='building/canteen-1']")
    text = page.inner_text("#month-electricity .last-year")
    assert text.startswith("—"), text
    assert ("last year's data incomplete" if en else "去年同期数据不全") in text, text
    assert not re.search(r"\d kWh", text), text
    coverage = int(page.get_attribute("#month-electricity .gap", "data-coverage") or -1)
    assert 0 < coverage <= 25, text  # six hours of the days compared
