"""The console's "today" and "this month" are the site's, not the browser's: a browser in UTC or in Los Angeles
looking at a site in Asia/Shanghai sees the same load curve (today's hours up to the site's hour), the same
day-against-yesterday figures, the same month and the same month-end projection as a browser on the campus."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from simulators.model import Simulation, load_campus_doc
from tests.support.console import Served, open_page
from tests.support.drive import inbound
from tests.support.harness import TZ, token_headers
from tests.support.paths import SAMPLE
from tests.support.servers import serving
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
BROWSERS = ["Asia/Shanghai", "UTC", "America/Los_Angeles"]
CHARTS = """sel => [...document.querySelectorAll(sel)].map((el) => {
  const o = echarts.getInstanceByDom(el).getOption();
  return { axis: o.xAxis[0].data, series: o.series.map((s) => [s.name, s.data]) };
})"""
PROJECTED = re.compile(r"(预计月末|预计) \d[\d,]*%")


@pytest.fixture(scope="module")
def server(app_stack: Callable[..., Stack]) -> Iterator[Served]:
    now = datetime.now(TZ)
    sim = Simulation(load_campus_doc(SAMPLE), start=now - timedelta(days=9), end=now, seed=5)
    stack = app_stack(SAMPLE, inbound(sim.publications()), name="timezone", evaluate=False)
    token = token_headers(stack.data, "admin", "zhang")["Authorization"].split()[1]
    with serving(stack.app()) as base:
        yield Served(base, token)


def show(page: Page, base: str, view: str) -> None:
    page.evaluate("delete document.body.dataset.shown")
    page.goto(f"{base}/#{view}")
    page.wait_for_selector(f"body[data-shown='{view}']")


def seen(browser: Browser, server: Served, timezone: str) -> dict[str, Any]:
    """What a browser in ``timezone`` shows of the site's day and month (the projections' percentages apart)."""
    page, errors = open_page(browser, "desk", timezone)
    try:
        page.goto(f"{server.base}/#token={server.token}")
        page.wait_for_selector("body[data-shown=overview]")
        out: dict[str, Any] = {"load": page.evaluate(CHARTS, "#load-chart"), "top": page.evaluate(CHARTS, "#top-chart"),
                               "kpis": page.inner_text("#kpis"),
                               "departments": PROJECTED.sub("", page.inner_text("#dept-progress")),
                               "projected": projections(page.inner_text("#dept-progress"))}
        show(page, server.base, "building/canteen-1")
        out |= {"building": page.evaluate(CHARTS, "#view .chart"),
                "building_text": PROJECTED.sub("", page.inner_text("#today-electricity") +
                                               page.inner_text("#month-electricity")),
                "building_projected": projections(page.inner_text("#month-electricity"))}
    finally:
        page.context.close()
    assert not errors, errors
    return out


def projections(text: str) -> list[int]:
    return [int(m.group(0).split()[-1].rstrip("%").replace(",", "")) for m in PROJECTED.finditer(text)]


def site_minute() -> tuple[str, int, int]:
    now = datetime.now(TZ)
    return now.strftime("%Y-%m-%d"), now.hour, now.minute


def test_a_browser_elsewhere_sees_the_sites_day_and_month(server: Served, browser: Browser) -> None:
    for _ in range(5):  # the site's minute may turn while the three browsers look: then they look again
        before = site_minute()
        views = {tz: seen(browser, server, tz) for tz in BROWSERS}
        if site_minute() == before:
            break
    else:
        pytest.fail("the site's minute turned during every attempt")
    day, hour = before[0], before[1]
    here = views["Asia/Shanghai"]
    today = dict(here["load"][0]["series"])["今天"]
    assert [v is not None for v in today] == [h < hour for h in range(24)], today  # up to the site's hour
    daily = here["building"][1]  # this month per day, at the site: the 1st to today
    assert len(daily["axis"]) in (28, 29, 30, 31)
    assert sum(v is not None for v in dict(daily["series"])["本月"]) == int(day[-2:])
    for tz in BROWSERS[1:]:
        there = views[tz]
        for key in ("load", "top", "kpis", "departments", "building", "building_text"):
            assert there[key] == here[key], (tz, key)
        for key in ("projected", "building_projected"):  # a minute's difference may move the last digit
            assert len(there[key]) == len(here[key]) > 0, (tz, key)
            assert all(abs(a - b) <= 1 for a, b in zip(there[key], here[key], strict=True)), (tz, key, there[key])
