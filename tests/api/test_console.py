"""The web console in headless Chromium (Debian's `chromium`, driven by Playwright; no browser download).

A real uvicorn server on a free loopback port serves the app over a service holding the last eight days of
the simulated campus, with faults (a night leak, drinking water out of limits, a replaced meter, a canteen
over its target), and alerts the real alert engine raised from the same readings. Every view is opened at
1400×1000 (a desk) and 375×812 (a phone); each one's charts must render with data, no page may scroll
sideways, and a screenshot of each is written to ``build/screenshots/`` (or $METERWATCH_SCREENSHOTS) for a
person to look at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from alerts.service import AlertService
from simulators.model import Simulation, load_campus_doc
from tests.support.console import SHOTS, SIZES, open_page
from tests.support.drive import inbound
from tests.support.harness import TZ, token_headers
from tests.support.paths import SAMPLE
from tests.support.servers import serving
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
VIEWS = ["overview", "alerts", "building/canteen-1", "device/c1-elec", "device/d2-water", "device/ta-fountain",
         f"reports/{datetime.now(TZ):%Y-%m}"]  # this month: the data starts eight days ago
FAULTS = ["water_leak", "ph_excursion:ta-fountain", "meter_replaced:d2-water", "over_budget"]
SEVERITY_ZH, SEVERITY_EN = {"严重", "重要", "次要", "提示"}, {"Critical", "Major", "Minor", "Warning"}
DEVICE_IDS = ["ta-fountain", "d1-water", "c1-elec", "d2-water"]


@dataclass
class Console:
    base: str
    token: str
    electrician: str
    alerts: AlertService
    data_dir: Path


@pytest.fixture(scope="module")
def console(app_stack: Callable[..., Stack]) -> Iterator[Console]:
    now = datetime.now(TZ)
    recent = Simulation(load_campus_doc(SAMPLE), start=now - timedelta(days=8), end=now, seed=3, faults=FAULTS)
    stack = app_stack(SAMPLE, inbound(recent.publications()), name="console")
    data = stack.data
    token = token_headers(data, "admin", "zhang")["Authorization"].split()[1]
    electrician = token_headers(data, "electrician", "wang")["Authorization"].split()[1]  # on the roster: north
    with serving(stack.app()) as base:
        yield Console(base, token, electrician, stack.alerts, data)


@pytest.fixture(params=list(SIZES))
def size(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def page(browser: Browser, size: str) -> Iterator[Page]:
    pg, errors = open_page(browser, size)
    yield pg
    pg.context.close()
    assert not errors, errors


def go(page: Page, console: Console, view: str, token: str | None = None) -> None:
    """Open ``view`` (an address after #) and wait until it is drawn: the console marks the address it showed."""
    if not page.url.startswith(console.base):
        page.goto(f"{console.base}/#token={token or console.token}")  # logs in, then shows #overview
        page.wait_for_selector("body[data-shown=overview]")
    if page.evaluate("location.hash") == f"#{view}":
        page.evaluate("delete document.body.dataset.shown; window.dispatchEvent(new HashChangeEvent('hashchange'))")
    else:
        page.evaluate("delete document.body.dataset.shown")
        page.goto(f"{console.base}/#{view}")
    page.wait_for_selector(f"body[data-shown='{view}']")


def chart_points(page: Page) -> list[int]:
    return [int(x or 0) for x in page.eval_on_selector_all("#view .chart", "els => els.map(e => e.dataset.points)")]


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page scrolls sideways: {width} px"  # type: ignore[index]


def test_every_view_renders_its_charts_with_data_and_fits(console: Console, page: Page, size: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for view in VIEWS:
        go(page, console, view)
        points = chart_points(page)
        assert points, f"{view}: no charts"
        if view == "alerts":  # each alert about a device has its last 24 h; a department's budget has none
            assert all(n > 0 for n in points), (view, points)
        elif view == "overview":
            assert all(n > 0 for n in points), (view, points)
        else:
            assert points[0] > 0, (view, points)
        no_sideways_scroll(page)
        page.screenshot(path=str(SHOTS / f"{view.replace('/', '-')}-{size}.png"), full_page=True)


def test_overview_shows_the_desk(console: Console, page: Page) -> None:
    go(page, console, "overview")
    assert page.inner_text("header h1") == "校园能耗与水质监测"
    assert "zhang" in page.inner_text("#who")
    # departments against their targets; the canteen with the fault is projected over and drawn red
    assert page.locator(".progress[data-department=canteen][data-kind=electricity] .bar.over").count() == 1
    assert page.locator(".progress[data-department=office][data-kind=electricity] .bar.over").count() == 0
    # the drinking-water board: the fountain out of limits is red, the others are not
    assert page.get_attribute(".tile[data-device=ta-fountain]", "data-standing") == "out"
    assert page.get_attribute(".tile[data-device=tb-fountain]", "data-standing") in ("ok", "near")
    assert "超出限值" in page.inner_text(".tile[data-device=ta-fountain]")
    text = page.inner_text("#view")
    assert "教学楼A饮水机" in text
    assert "严重" in text
    assert "第一食堂" in page.inner_text("#top-chart") or page.locator("#top-chart canvas").count() == 1


def test_names_not_ids_with_the_id_on_hover(console: Console, page: Page) -> None:
    for view in ("overview", "alerts", "device/ta-fountain"):
        go(page, console, view)
        text = page.inner_text("#view")
        shown = [i for i in DEVICE_IDS if i in text]
        assert not shown, (view, shown)
    go(page, console, "alerts")
    card = page.locator(".alert-card", has_text="教学楼A饮水机").first
    assert card.locator(".named").get_attribute("title") == "ta-fountain"
    assert "教学楼A栋" in card.inner_text()


def test_language_switch_changes_alert_texts_and_severities(console: Console, page: Page) -> None:
    go(page, console, "alerts")
    badges = set(page.locator(".alert-card .sev").all_inner_texts())
    assert badges, "no severity shown"
    assert badges <= SEVERITY_ZH, badges
    leak = page.locator(".alert-card", has_text="学生宿舍1号楼").filter(has_text="流量").first
    assert "最小流量" in leak.inner_text()
    assert "夜间最小流量" in leak.locator(".rule").inner_text()
    page.click("#lang")
    page.wait_for_function("document.querySelector('header h1').textContent === 'Campus energy and water quality'")
    page.wait_for_selector("body[data-ready=alerts] .alert-card .sev")
    page.wait_for_function("[...document.querySelectorAll('.alert-card .sev')]"
                           ".every(e => /^[A-Z]/.test(e.textContent))")
    badges = set(page.locator(".alert-card .sev").all_inner_texts())
    assert badges, "no severity shown"
    assert badges <= SEVERITY_EN, badges
    text = page.inner_text("#alert-list")
    assert "minimum flow" in text
    assert "最小流量" not in text
    assert "Night minimum flow" in text
    assert "Acknowledge" in text
    page.click("#lang")  # back to Chinese for the next test (the choice is kept in the browser)
    page.wait_for_function("document.querySelector('header h1').textContent === '校园能耗与水质监测'")


def test_phone_alerts_from_the_message_link_ack_and_resolve(console: Console, browser: Browser) -> None:
    page, errors = open_page(browser, "phone")
    try:
        store = console.alerts.desk.store
        fountain = next(a for a in store.query(status="open") if a.device == "ta-fountain")
        leak = next(a for a in store.query(status="open") if a.device == "d1-water")
        page.goto(f"{console.base}/#token={console.electrician}")
        page.wait_for_selector("body[data-ready=overview]")
        page.goto(f"{console.base}/#alerts/{fountain.id}")  # the link in the message
        page.wait_for_selector("body[data-ready=alerts]")
        card = page.locator(f".alert-card[data-alert='{fountain.id}']")
        assert "focus" in (card.get_attribute("class") or "")
        assert "王建国" in page.inner_text("#who")
        no_sideways_scroll(page)
        for button in card.locator(".actions button").all():
            box = button.bounding_box()
            assert box is not None
            assert min(box["height"], box["width"]) >= 44, box  # a touch target
        assert int(card.locator(".chart.mini").get_attribute("data-points") or 0) > 0  # its last 24 h

        card.locator("button.ack").tap()
        page.wait_for_function(f"document.querySelector(\".alert-card[data-alert='{fountain.id}'] .status\")"
                               f".textContent === '已确认'")
        acked = store.get(fountain.id)
        assert (acked.status, acked.ack_by) == ("acknowledged", "wang")
        no_sideways_scroll(page)

        page.locator(f".alert-card[data-alert='{leak.id}'] button.resolve").tap()
        page.wait_for_function(f"!document.querySelector(\".alert-card[data-alert='{leak.id}']\") || "
                               f"document.querySelector(\".alert-card[data-alert='{leak.id}']\").dataset.status "
                               f"=== 'resolved'")
        done = store.get(leak.id)
        assert (done.status, done.resolved_by, done.resolve_reason) == ("resolved", "wang", "已到现场处理，恢复正常")
    finally:
        page.context.close()
    assert not errors, errors


def test_zone_filter_defaults_to_the_electricians_zone(console: Console, browser: Browser) -> None:
    page, errors = open_page(browser, "phone")
    try:
        page.goto(f"{console.base}/#token={console.electrician}")
        page.wait_for_selector("body[data-ready=overview]")
        page.goto(f"{console.base}/#alerts")
        page.wait_for_selector("body[data-ready=alerts]")
        assert page.input_value("#zone-filter") == "zone-north"
        page.select_option("#zone-filter", "zone-south")
        page.wait_for_function("document.body.dataset.ready === 'alerts' && "
                               "document.querySelector('#zone-filter').value === 'zone-south'")
        assert "教学楼A饮水机" in page.inner_text("#alert-list")  # teaching building A is in the south zone
        assert "1号宿舍楼水表" not in page.inner_text("#alert-list")
    finally:
        page.context.close()
    assert not errors, errors


def test_device_page_bars_register_and_flagged_steps(console: Console, page: Page, size: str) -> None:
    go(page, console, "device/d2-water")
    page.click(".seg button[data-days='7']")
    page.wait_for_function("document.body.dataset.ready === 'device' && "
                           "document.querySelector('.seg button.on').dataset.days === '7'")
    bars = chart_points(page)[0]
    assert bars >= 24 * 6, bars  # use per hour as bars
    assert "换表/归零" in page.inner_text("#flagged")  # the replaced meter, where it happened
    marked = page.evaluate("echarts.getInstanceByDom(document.querySelector('#device-chart'))"
                           ".getOption().series[0].markArea.data.length")
    assert marked >= 1
    page.check("#register-toggle")
    page.wait_for_function(f"document.body.dataset.ready === 'device' && "
                           f"Number(document.querySelector('#device-chart').dataset.points) > {bars}")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"device-d2-water-7d-register-{size}.png"), full_page=True)
    go(page, console, "device/ta-fountain")
    lines = page.evaluate("echarts.getInstanceByDom(document.querySelector('#device-chart'))"
                          ".getOption().series[0].markLine.data.map(d => d.yAxis)")
    assert sorted(lines) == [6.0, 8.5]  # CJ 94-2005 pH limits (a direct-drinking fountain), from the rule


def test_building_view(console: Console, page: Page) -> None:
    go(page, console, "building/canteen-1")
    assert page.input_value("#building-select") == "canteen-1"
    assert page.locator(".grid[data-kind]").count() == 3  # electricity, water and gas meters
    assert "指标 13,500" in page.inner_text("#month-electricity")  # its own target, from the campus file
    page.select_option("#building-select", "dorm-1")
    page.wait_for_selector("body[data-shown='building/dorm-1']")
    assert page.locator(".grid[data-kind]").count() == 2


def test_report_in_the_page_then_downloads(console: Console, page: Page, tmp_path: Path) -> None:
    month = datetime.now(TZ).strftime("%Y-%m")
    go(page, console, f"reports/{month}")
    report = page.evaluate(f"fetch('/api/v1/reports/energy?month={month}&format=json', {{headers: "
                           f"{{Authorization: 'Bearer ' + localStorage.getItem('mw-token')}}}}).then(r => r.json())")
    shown = page.inner_text(".kpi[data-metric=electricity_kwh] .num").replace(",", "")
    assert int(shown) == round(report["site_total"]["figures"]["electricity_kwh"])
    for target in report["targets"]:  # the targets as the files have them, red where over
        bar = page.locator(f".progress[data-department={target['department']}][data-kind={target['kind']}] .bar")
        assert ("over" in (bar.get_attribute("class") or "")) == target["over"], target
    assert chart_points(page)[0] > 0
    # this month is not over, so it is compared with nothing: "—" and why, never a percentage
    assert all(c["mom_pct"] is None and c["mom_gap"] == "unfinished" for c in report["comparisons"])
    gaps = page.locator("[data-gap=unfinished]")
    assert gaps.count() >= 2 * len([c for c in report["comparisons"] if c["scope"] == report["site"]])
    assert "本月未结束" in gaps.first.inner_text()
    with page.expect_download() as info:
        page.click("#downloads button[data-format=pdf]")
    info.value.save_as(tmp_path / "report.pdf")
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF")
    with page.expect_download() as info:
        page.click("#downloads button[data-format=xlsx]")
    info.value.save_as(tmp_path / "report.xlsx")
    assert (tmp_path / "report.xlsx").read_bytes().startswith(b"PK")


def test_a_bad_token_shows_the_login(console: Console, browser: Browser) -> None:
    page, errors = open_page(browser, "desk")
    try:
        page.goto(f"{console.base}/#token=mw_not-a-token")
        page.wait_for_selector("#login:not([hidden])")
        assert "令牌无效" in page.inner_text("#login-error")
        page.fill("#token", console.token)
        page.click("#login-form button")
        page.wait_for_selector("body[data-ready=overview]")
    finally:
        page.context.close()
    # the refused token's 401 is logged by the browser as a failed resource: that one is expected
    assert all("401" in e for e in errors), errors
