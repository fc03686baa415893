"""What the overview and the building view show in detail: open alerts most severe first (a critical one is never
pushed off the list by newer minor ones), the navigation in one row on a phone, a legend only for series with
data, each water-quality value to its own precision, and the month-end projection's tick labelled."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route

from simulators.model import Simulation, load_campus_doc
from tests.support.console import Served, open_page
from tests.support.drive import inbound
from tests.support.harness import TZ, token_headers
from tests.support.paths import SAMPLE
from tests.support.servers import serving
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(app_stack: Callable[..., Stack]) -> Iterator[Served]:
    now = datetime.now(TZ)
    sim = Simulation(load_campus_doc(SAMPLE), start=now - timedelta(days=2), end=now, seed=3,
                     faults=["ph_excursion:ta-fountain"])
    stack = app_stack(SAMPLE, inbound(sim.publications()), name="details", evaluate=False)
    token = token_headers(stack.data, "admin", "zhang")["Authorization"].split()[1]
    with serving(stack.app()) as base:
        yield Served(base, token)


def opened(browser: Browser, server: Served, size: str, lang: str = "zh-CN") -> tuple[Page, list[str]]:
    page, errors = open_page(browser, size)
    page.add_init_script(f"localStorage.setItem('mw-lang', '{lang}')")
    return page, errors


def show(page: Page, server: Served, view: str) -> None:
    if not page.url.startswith(server.base):
        page.goto(f"{server.base}/#token={server.token}")
        page.wait_for_selector("body[data-shown=overview]")
        if view == "overview":
            return
    page.evaluate("delete document.body.dataset.shown")
    page.goto(f"{server.base}/#{view}")
    page.wait_for_selector(f"body[data-shown='{view}']")


def alert(i: int, severity: str, started: str) -> dict[str, Any]:
    return {"id": i, "severity": severity, "status": "active", "name": f"rule {i}", "rule": f"r{i}",
            "building_name": "第一食堂", "subject": f"dev-{i}", "subject_name": f"设备{i}", "started": started}


def test_open_alerts_on_the_overview_are_most_severe_first(server: Served, browser: Browser) -> None:
    # whatever order the API sends: six newer minor ones, then a major and the critical night leak
    minors = [alert(10 + i, "minor", f"2026-12-03T0{i}:00:00+08:00") for i in range(6)]
    sent = [*minors, alert(2, "major", "2026-12-02T09:00:00+08:00"), alert(1, "critical", "2026-12-02T02:00:00+08:00")]

    def answer(route: Route) -> None:
        route.fulfill(status=200, content_type="application/json", json=sent)

    page, errors = opened(browser, server, "desk")
    try:
        page.route(re.compile(r".*/api/v1/alerts\?status=open.*"), answer)
        show(page, server, "overview")
        badges = page.locator("#open-alerts .sev").all_inner_texts()
        assert badges[:3] == ["严重", "重要", "次要"], badges
        ids = page.eval_on_selector_all("#open-alerts a", "els => els.map((a) => a.getAttribute('href'))")
        assert ids[:3] == ["#alerts/1", "#alerts/2", "#alerts/15"], ids  # then the newest minor one
    finally:
        page.context.close()
    assert not errors, errors


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_navigation_is_one_row_on_a_phone(server: Served, browser: Browser, lang: str) -> None:
    page, errors = opened(browser, server, "phone", lang)
    try:
        for view in ("overview", "sweep"):
            show(page, server, view)
            boxes = [page.locator("header nav a").nth(i).bounding_box()
                     for i in range(page.locator("header nav a").count())]
            assert len({round(b["y"]) for b in boxes if b}) == 1, boxes  # one row
            assert page.evaluate("document.documentElement.scrollWidth") <= 375  # the page does not scroll sideways
            nav = page.locator("header nav").bounding_box()
            active = page.locator("header nav a.active").bounding_box()
            assert nav
            assert active
            assert nav["x"] - 1 <= active["x"]
            assert active["x"] + active["width"] <= nav["x"] + nav["width"] + 1
            # links out of sight: that edge fades, so a person sees the row scrolls
            hidden = page.evaluate("""() => { const n = document.querySelector('header nav');
                return [n.scrollLeft > 1, n.scrollLeft + n.clientWidth < n.scrollWidth - 1]; }""")
            assert set(page.evaluate("[...document.querySelector('header nav').classList]")) == \
                {c for c, on in zip(["more-left", "more-right"], hidden, strict=True) if on}
    finally:
        page.context.close()
    assert not errors, errors


def test_a_legend_names_only_series_that_have_data(server: Served, browser: Browser) -> None:
    page, errors = opened(browser, server, "desk")
    try:
        show(page, server, "building/canteen-1")  # no data a year ago: no "去年同期" entry without a line
        legend = page.evaluate("""() => echarts.getInstanceByDom(document.querySelector('#daily-electricity'))
            .getModel().getComponent('legend').getData().map((d) => d.get('name'))""")
        assert legend == ["本月"], legend
    finally:
        page.context.close()
    assert not errors, errors


def test_water_values_and_the_projection_read_sensibly(server: Served, browser: Browser) -> None:
    page, errors = opened(browser, server, "phone")
    try:
        show(page, server, "overview")
        tile = page.inner_text(".tile[data-device=ta-fountain]")
        assert re.search(r"溶解性总固体 \d[\d,]* mg/L", tile), tile  # TDS in whole mg/L
        assert re.search(r"pH \d+\.\d\d\b", tile), tile
        label = page.locator(".progress[data-department=canteen][data-kind=electricity] .proj-label")
        assert re.fullmatch(r"预计 \d[\d,]*%", label.inner_text()), label.inner_text()
        box, card = label.bounding_box(), page.locator("#dept-progress").bounding_box()
        assert box
        assert card
        assert card["x"] <= box["x"]
        assert box["x"] + box["width"] <= card["x"] + card["width"]
        legend = page.locator(".progress[data-department=canteen][data-kind=electricity] .bar-legend").bounding_box()
        assert legend
        assert box["y"] + box["height"] <= legend["y"] + 1
    finally:
        page.context.close()
    assert not errors, errors
