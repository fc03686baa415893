"""What people see of alerts in Chromium, at a desk's and a phone's size: the alerts page most severe first, its
texts escaped, and the acknowledge page a mail's link opens (styled, in names, with value and limit). Screenshots
go to build/screenshots/ (or $METERWATCH_SCREENSHOTS), and to $METERWATCH_ALERT_SHOTS when set."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page

from alerts.book import ack_query
from alerts.service import AlertService
from campus.clock import FrozenClock
from tests.support.console import SHOTS, open_page
from tests.support.drive import inbound, local, simulation
from tests.support.harness import TZ, token_headers
from tests.support.paths import SAMPLE
from tests.support.servers import serving
from tests.support.stack import Stack

MARKUP = '<img class="injected" src="x" onerror="document.body.dataset.pwned=1">'
EXTRA_SHOTS = os.environ.get("METERWATCH_ALERT_SHOTS")


@dataclass
class Site:
    base: str
    token: str
    alerts: AlertService


@pytest.fixture(scope="module")
def site(app_stack: Callable[..., Stack]) -> Iterator[Site]:
    # Tuesday 10 March 2026 from noon: the fountain's pH (major) at noon, the canteen's gas (critical) from 21:00,
    # the teaching building's lights (minor) after 22:30: newest first would put the critical one second
    sim = simulation(local(2026, 3, 10, 12), 12, ["ph_excursion:ta-fountain", "gas_after_hours", "lights_on_night"])
    stack = app_stack(SAMPLE, inbound(sim.publications()), name="alerts-console")
    token = token_headers(stack.data, "admin", "zhang")["Authorization"].split()[1]
    with serving(stack.app()) as base:
        yield Site(base, token, stack.alerts)


def shoot(page: Page, name: str) -> None:
    for folder in (SHOTS, *([Path(EXTRA_SHOTS)] if EXTRA_SHOTS else [])):
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / name), full_page=True)


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page scrolls sideways: {width} px"  # type: ignore[index]


@pytest.mark.parametrize("size", ["desk", "phone"])
def test_the_alerts_page_is_most_severe_first_and_shows_markup_as_text(site: Site, browser: Browser,
                                                                       size: str) -> None:
    store = site.alerts.desk.store
    opened = {a.rule: a for a in store.query(status="open")}
    assert {"canteen-gas-closed", "purified-ph", "teaching-power-after-hours"} <= set(opened)  # the fountain: CJ 94
    api = httpx.Client(base_url=f"{site.base}/api/v1", headers={"Authorization": f"Bearer {site.token}"})
    with api:
        lights = opened["teaching-power-after-hours"]
        if lights.status == "active":
            assert api.post(f"/alerts/{lights.id}/ack", json={"comment": MARKUP}).status_code == 200
    page, errors = open_page(browser, size)
    try:
        page.goto(f"{site.base}/#token={site.token}")
        page.wait_for_selector("body[data-ready=overview]")
        page.goto(f"{site.base}/#alerts")
        page.wait_for_selector("body[data-ready=alerts] .alert-card")
        severities = page.eval_on_selector_all("#alert-list .alert-card",
                                               "els => els.map(e => e.querySelector('.sev').className)")
        order = ["critical", "major", "minor", "warning"]
        ranks = [next(i for i, s in enumerate(order) if f"sev-{s}" in c) for c in severities]
        assert ranks == sorted(ranks), severities
        assert "sev-critical" in severities[0]
        assert page.locator("#alert-list .injected").count() == 0
        assert page.evaluate("document.body.dataset.pwned") is None
        assert MARKUP in page.inner_text(f".alert-card[data-alert='{lights.id}'] .who")  # shown as it was typed
        no_sideways_scroll(page)
        shoot(page, f"alerts-severity-first-{size}.png")
    finally:
        page.context.close()
    assert not errors, errors


@pytest.mark.parametrize("size", ["desk", "phone"])
def test_the_acknowledge_page_is_styled_in_names_with_value_and_limit(site: Site, browser: Browser,
                                                                      size: str) -> None:
    store = site.alerts.desk.store
    gas = next(a for a in store.query() if a.rule == "canteen-gas-closed")
    if gas.status != "active":
        pytest.fail(f"the gas alert is {gas.status}: each size acknowledges its own copy")
    link = f"{site.base}/api/v1/alerts/{gas.id}/ack?" \
           f"{ack_query(site.alerts.desk.book.settings.secret, gas.id, 'li', 9_999_999_999)}"
    page, errors = open_page(browser, size)
    try:
        page.goto(link)
        card = page.locator(".ack-card")
        text = card.inner_text()
        for seen in ("食堂非营业时间燃气使用", "Canteen gas used while closed", "第一食堂", "一食堂燃气表", "严重",
                     "数值", "限值", "2026-03-10 21:", "李强"):
            assert seen in text, (seen, text)
        assert gas.limit_text is not None
        assert gas.limit_text.split()[-1] in text  # the limit's number
        assert " li " not in f" {text} "  # the person's name, never the roster id
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(243, 245, 248)"  # styled
        assert page.evaluate("getComputedStyle(document.querySelector('.ack-card')).borderLeftColor") == \
            "rgb(192, 57, 43)"  # critical
        box = page.locator(".ack-button").bounding_box()
        assert box is not None
        assert box["height"] >= 44, box
        no_sideways_scroll(page)
        shoot(page, f"ack-page-{size}.png")
        if size == "phone":
            page.locator(".ack-button").tap()
            page.wait_for_selector(".ack-done")
            assert "已由 李强 确认" in page.inner_text(".ack-done")
            assert "acknowledged by 李强" in page.inner_text(".ack-done")
            assert store.get(gas.id).status == "acknowledged"
            no_sideways_scroll(page)
            shoot(page, f"ack-page-done-{size}.png")
    finally:
        page.context.close()
    assert not errors, errors


@pytest.mark.parametrize("size", ["desk", "phone"])
def test_an_overdue_round_reads_in_days_on_the_acknowledge_page(app_stack: Callable[..., Stack], browser: Browser,
                                                               size: str) -> None:
    # Monday 21 Sep 10:00: Sunday 20 Sep was a make-up workday and nobody walked the north zone's patrol
    stack = app_stack(SAMPLE, [], name=f"round-{size}")
    app = stack.app(FrozenClock(int(datetime(2026, 9, 21, 10, 0, tzinfo=TZ).timestamp() * 1000)))
    page, errors = open_page(browser, size)
    try:
        with serving(app) as base:
            app.state.records.check()  # (the records desk is the running app's)
            north = stack.alerts.desk.store.open_for("yucai", "round-overdue", "round:zone-patrol:zone-north")
            assert north is not None
            secret = stack.alerts.desk.book.settings.secret
            page.goto(f"{base}/api/v1/alerts/{north.id}/ack?{ack_query(secret, north.id, 'wang', 9_999_999_999)}")
            text = page.inner_text(".ack-card")
            for seen in ("责任区日常巡查 · 北区(生活区)责任区", "Daily zone patrol · 北区(生活区)责任区",
                         "逾期 1 天 · 应于 2026-09-20 前完成", "1 day late · due by 2026-09-20", "王建国"):
                assert seen in text, (seen, text)
            assert "round:" not in text
            assert "数值" not in text  # no count against a date
            no_sideways_scroll(page)
            shoot(page, f"ack-page-round-{size}.png")
            # the console's alerts page, in English: the round's words, not its subject or a count against a date
            token = token_headers(stack.data, "admin", "zhang")["Authorization"].split()[1]
            page.goto(f"{base}/#token={token}")
            page.wait_for_selector("body[data-ready=overview]")
            page.goto(f"{base}/#alerts/{north.id}")
            page.wait_for_selector(f"body[data-ready=alerts] .alert-card[data-alert='{north.id}']")
            page.click("#lang")
            page.wait_for_function(f"document.querySelector(\".alert-card[data-alert='{north.id}'] .reading\")"
                                   f"?.textContent.includes('Status')")
            page.wait_for_selector("body[data-ready=alerts]")
            card = page.inner_text(f".alert-card[data-alert='{north.id}']")
            assert "Status 1 day late · due by 2026-09-20" in card, card
            assert "Daily zone patrol · 北区(生活区)责任区" in card
            assert "Daily zone patrol (北区(生活区)责任区) was due by 2026-09-20" in card
            power = page.locator(".alert-card", has_text="Key facility check").filter(has_text="高压配电房").first
            assert power.locator(".where").inner_text().count("高压配电房") == 1  # its building said once
            no_sideways_scroll(page)
            shoot(page, f"alerts-round-en-{size}.png")
            page.click("#lang")  # back to Chinese (the choice is kept in the browser), drawn before the server goes
            page.wait_for_function(f"document.querySelector(\".alert-card[data-alert='{north.id}'] .reading\")"
                                   f"?.textContent.includes('情况')")
            page.wait_for_selector("body[data-ready=alerts]")
    finally:
        page.context.close()
    assert not errors, errors
