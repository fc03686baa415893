"""The console's hazard ledger, water tests, the report's filing and downloads, and a device's own open alerts, in
headless Chromium against the real API: each view renders with data, its forms work end to end (what the server
stored is checked), a viewer sees no write controls, people are named (the roster's names, never token ids), times
are the site's, and markup a person typed stays text. Screenshots of each view at both sizes go to SHOTS."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from api.access import Scope
from api.tokens import TokenStore
from campus.clock import FrozenClock
from campus.db import DataDir
from records.store import RecordStore
from simulators.model import Simulation, load_campus_doc
from tests.support.console import SHOTS, SIZES, open_page
from tests.support.drive import inbound
from tests.support.harness import TZ
from tests.support.paths import SAMPLE
from tests.support.records import ms, png
from tests.support.servers import serving
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=TZ)  # a Friday in the autumn term
MARKUP = '<img src=x onerror="document.body.dataset.pwned=1">'
PDF = b"%PDF-1.4\n% a laboratory's report\n%%EOF\n"
BROWSER_TZ = "America/New_York"  # not the site's: every time shown and taken must still be the site's (UTC+8)


@dataclass
class Server:
    base: str
    tokens: dict[str, str]  # role → token: electrician wang (王建国), admin chen (陈志明), viewer liu (刘芳)
    data: Path


@pytest.fixture(scope="module")
def server(app_stack: Callable[..., Stack]) -> Iterator[Server]:
    sim = Simulation(load_campus_doc(SAMPLE), start=NOW - dt.timedelta(hours=20), end=NOW, seed=11,
                     faults=["ph_excursion:ta-fountain", "tds_high:ta-fountain"])
    stack = app_stack(SAMPLE, inbound(sim.publications()), name="views-console")
    store = TokenStore(DataDir(stack.data).state)
    tokens = {"electrician": store.create("wang", "electrician"), "admin": store.create("chen", "admin"),
              "viewer": store.create("liu", "viewer"),
              "south": store.create("zhao", "electrician", Scope.of(["yucai"], ["zone-south"], []))}
    store.close()
    with serving(stack.app(FrozenClock(ms(NOW)))) as base:
        yield Server(base, tokens, stack.data)


def _open(browser: Browser, server: Server, size: str, view: str, role: str) -> tuple[Page, list[str]]:
    page, errors = open_page(browser, size, BROWSER_TZ)
    page.clock.set_fixed_time(NOW)  # the browser's clock where the server's is (the data ends at NOW)
    page.goto(f"{server.base}/#token={server.tokens[role]}")
    page.wait_for_selector("body[data-shown='overview']")
    page.goto(f"{server.base}/#{view}")
    page.wait_for_selector(f"body[data-shown='{view}']")
    return page, errors


def _done(page: Page, errors: list[str]) -> None:
    assert page.evaluate("document.body.dataset.pwned") is None
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
    page.context.close()
    assert not [e for e in errors if "favicon" not in e], errors


def _saved(page: Page, value: str) -> None:
    """After a form's submission: the server's answer marked, and the view drawn again."""
    page.wait_for_selector(f"body[data-saved='{value}']")
    page.wait_for_selector("body[data-ready]")


def _small_targets(page: Page, selector: str) -> list[str]:
    """Visible controls under ``selector`` shorter than 44 px (a finger's width)."""
    return page.evaluate("""(sel) => [...document.querySelectorAll(sel)].filter((el) => el.offsetParent !== null)
        .filter((el) => el.getBoundingClientRect().height < 43.5).map((el) => el.outerHTML.slice(0, 80))""",
                         selector)


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # the sticky header where a person sees it
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_people_and_terms_are_named_for_the_console(server: Server, browser: Browser) -> None:
    """GET /people (the roster's names, no contact details) and GET /terms, which the views name and offer from."""
    page, errors = _open(browser, server, "desk", "overview", "viewer")
    auth = {"Authorization": f"Bearer {server.tokens['viewer']}"}
    roster = page.request.get(f"{server.base}/api/v1/people", headers=auth)
    terms = page.request.get(f"{server.base}/api/v1/terms", headers=auth)
    elsewhere = page.request.get(f"{server.base}/api/v1/people?site=nowhere", headers=auth)
    assert roster.status == 200
    assert {"id": "wang", "name": "王建国"} in roster.json()
    assert all(set(p) == {"id", "name"} for p in roster.json())  # no email or phone
    assert terms.status == 200
    assert {"name": "2026秋季学期", "start": "2026-09-01", "end": "2027-01-22"} in terms.json()
    assert elsewhere.status == 404
    _done(page, errors)


@pytest.mark.parametrize("size", list(SIZES))
def test_an_electrician_reports_a_hazard_with_a_photo_then_assigns_and_fixes_it(
        server: Server, browser: Browser, tmp_path: Path, size: str) -> None:
    page, errors = _open(browser, server, size, "hazards", "electrician")
    photo = tmp_path / "socket.png"
    photo.write_bytes(png(40, 30))
    page.click("#hz-new")
    form = page.locator("#hz-form")
    form.locator("input[name='what']").fill(f"配电箱门锁损坏 {size} {MARKUP}")
    form.locator("select[name='building']").select_option("teach-a")
    form.locator("select[name='device']").select_option("ta-elec")
    form.locator("input[name='due']").fill("2026-11-27")
    form.locator("input[name='photo']").set_input_files(str(photo))
    if size == "phone":
        _shot(page, "hazards-form-phone")
    form.locator("button[type='submit']").click()
    page.wait_for_selector("body[data-saved$=':open']")
    hazard = int((page.locator("body").get_attribute("data-saved") or "0").split(":")[0])
    page.wait_for_selector(f"[data-hazard='{hazard}']")
    card = page.locator(f"[data-hazard='{hazard}']")
    assert MARKUP in card.locator(".hz-title").inner_text()  # typed markup stays text
    text = card.inner_text()
    assert "王建国" in text
    assert "wang" not in text
    assert "教学楼A栋" in text
    assert "2026-11-20 15:00" in text
    assert "待处理" in text
    # assign it to 赵立新, due in a week
    card.locator("details.hz-act summary").click()
    assign = card.locator("form.hz-move[data-to='assigned']")
    assign.locator("select[name='assigned_to']").select_option(label="赵立新")
    if size == "phone":
        card.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "hazards-handle-phone.png"))
    assign.locator("button[type='submit']").click()
    _saved(page, f"{hazard}:assigned")
    card = page.locator(f"[data-hazard='{hazard}']")
    assert "整改中" in card.inner_text()
    assert "赵立新" in card.locator(".who b").inner_text()
    # fixed, with what was done and a photo of it
    card.locator("details.hz-act summary").click()
    fix = card.locator("form.hz-move[data-to='fixed']")
    fix.locator("textarea[name='note']").fill("已更换门锁")
    fix.locator("input[name='photo']").set_input_files(str(photo))
    fix.locator("button[type='submit']").click()
    _saved(page, f"{hazard}:fixed")
    card = page.locator(f"[data-hazard='{hazard}']")
    assert "已整改" in card.inner_text()
    assert card.locator("details.hz-act").count() == 0
    store = RecordStore(DataDir(server.data).records)
    try:
        row = store.hazard(hazard)
        steps = store.steps(hazard)
    finally:
        store.close()
    assert row is not None
    assert (row.status, row.building, row.device, row.assigned_to, row.fixed_by) == (
        "fixed", "teach-a", "ta-elec", "zhao", "wang")
    assert len(row.photos) == 1
    assert [s.status for s in steps][-2:] == ["assigned", "fixed"]
    assert len(steps[-1].photos) == 1
    card.locator("button.hz-history").click()  # each step, with its photos fetched with the token
    card.locator("button.hz-history").wait_for(state="hidden")  # hidden once every photo is in
    assert card.locator(".hz-steps img").count() == 2  # the one reported with it, the one of the fix
    assert card.locator(".hz-steps li").count() == 3  # reported, assigned, fixed
    steps_text = card.locator(".hz-steps").inner_text()
    assert "已更换门锁" in steps_text
    assert "王建国" in steps_text
    card.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"hazards-history-{size}.png"))
    # the filter shows the fixed ones only
    page.evaluate("delete document.body.dataset.ready")
    page.click("button[data-filter='fixed']")
    page.wait_for_selector("body[data-ready]")
    assert set(page.locator(".hz-card").evaluate_all("els => els.map(e => e.dataset.status)")) == {"fixed"}
    page.evaluate("delete document.body.dataset.ready")
    page.click("button[data-filter='']")
    page.wait_for_selector("body[data-ready]")
    assert not _small_targets(page, "#view button, #view select, #view input, #view summary")
    _shot(page, f"hazards-{size}")
    _done(page, errors)


def test_the_hazard_ledger_lists_the_open_first_and_a_viewer_cannot_write(server: Server, browser: Browser) -> None:
    page, errors = _open(browser, server, "desk", "hazards", "electrician")
    for title in ("插座松动", "地漏堵塞"):
        page.click("#hz-new")
        page.fill("#hz-form input[name='what']", title)
        page.evaluate("delete document.body.dataset.saved")
        page.click("#hz-form button[type='submit']")
        page.wait_for_selector("body[data-saved$=':open']")
        page.wait_for_selector("body[data-ready]")
    page.context.close()
    page, errors = _open(browser, server, "desk", "hazards", "viewer")
    statuses = page.locator(".hz-card").evaluate_all("els => els.map(e => e.dataset.status)")
    order = ["open", "assigned", "fixed"]
    assert statuses
    assert statuses == sorted(statuses, key=order.index)
    assert page.locator("#hz-new, details.hz-act, form.hz-move, #hz-form").count() == 0
    assert "全校(不限楼宇)" not in page.inner_text("#view")  # no report form for a viewer
    _shot(page, "hazards-viewer-desk")
    with page.expect_download() as info:
        page.click("#hz-downloads button[data-format='pdf']")
    assert Path(info.value.path()).read_bytes().startswith(b"%PDF")
    _done(page, errors)


def test_an_electrician_of_one_zone_reports_in_its_buildings_only(server: Server, browser: Browser) -> None:
    page, errors = _open(browser, server, "phone", "hazards", "south")
    page.click("#hz-new")
    building = page.locator("#hz-form select[name='building']")
    assert building.get_attribute("required") is not None  # no whole-site hazard from a narrowed token
    options = building.locator("option").all_inner_texts()
    assert "全校(不限楼宇)" not in options
    assert any("教学楼A栋" in o for o in options)
    assert not any("食堂" in o for o in options)  # the north zone's buildings are not offered
    assert page.locator("#filing, #file-report").count() == 0
    _done(page, errors)


@pytest.mark.parametrize("size", list(SIZES))
def test_an_electrician_records_a_self_test_and_uploads_a_lab_test(server: Server, browser: Browser,
                                                                    tmp_path: Path, size: str) -> None:
    page, errors = _open(browser, server, size, "watertests", "electrician")
    page.click("#wt-new-self")
    form = page.locator("#wt-form")
    form.locator("select[name='point']").select_option("ta-fountain")
    form.locator("input[name='taken_at']").fill("2026-11-20T09:30")
    form.locator("input[data-field='ph']").fill("7.2")
    form.locator("input[data-field='turbidity_ntu']").fill("0.4")
    form.locator("textarea[name='note']").fill(MARKUP)
    if size == "phone":
        _shot(page, "watertests-form-phone")
    form.locator("button[type='submit']").click()
    page.wait_for_selector("body[data-saved]")
    page.wait_for_selector("body[data-ready]")
    self_id = page.locator("body").get_attribute("data-saved")
    card = page.locator(f"[data-test='{self_id}']")
    text = card.inner_text()
    assert "教学楼A栋饮水机" in text or "饮水" in text
    assert "2026-11-20 09:30" in text
    assert "自检" in text
    assert "王建国" in text
    assert card.locator(".badge").inner_text() == "合格"
    assert MARKUP in card.locator(".note").inner_text()
    assert "6–8.5" in card.locator("tr[data-field='ph']").inner_text()  # a direct-drinking fountain: CJ 94-2005
    # a laboratory's test with its PDF, lead over its limit: fails
    pdf = tmp_path / "lab.pdf"
    pdf.write_bytes(PDF)
    page.evaluate("delete document.body.dataset.saved")
    page.click("#wt-new-lab")
    form = page.locator("#wt-form")
    form.locator("select[name='point']").select_option("ta-fountain")
    form.locator("input[name='taken_at']").fill("2026-11-18T10:00")
    form.locator("input[name='lab']").fill("区疾控中心")
    form.locator("input[name='attachment']").set_input_files(str(pdf))
    form.locator("input[data-field='lead_mgl']").fill("0.02")
    form.locator("button[type='submit']").click()
    page.wait_for_selector("body[data-saved]")
    page.wait_for_selector("body[data-ready]")
    lab_id = page.locator("body").get_attribute("data-saved")
    card = page.locator(f"[data-test='{lab_id}']")
    assert "区疾控中心" in card.inner_text()
    assert card.locator(".badge").inner_text() == "不合格"
    assert "不合格" in card.locator("tr[data-field='lead_mgl']").inner_text()
    store = RecordStore(DataDir(server.data).records)
    try:
        lab = next(t for t in store.tests("yucai") if str(t.id) == lab_id)
    finally:
        store.close()
    assert (lab.kind, lab.lab, lab.taken_ms, lab.recorded_by) == (
        "lab", "区疾控中心", ms(dt.datetime(2026, 11, 18, 10, tzinfo=TZ)), "wang")
    assert lab.attachment is not None
    with page.expect_download() as info:
        card.locator("button.wt-pdf").click()
    assert Path(info.value.path()).read_bytes() == PDF
    assert not _small_targets(page, "#view button, #view select, #view input")
    _shot(page, f"watertests-{size}")
    _done(page, errors)


def test_a_viewer_reads_the_water_tests_without_write_controls(server: Server, browser: Browser) -> None:
    page, errors = _open(browser, server, "phone", "watertests", "viewer")
    assert page.locator("#wt-new-self, #wt-new-lab, #wt-form").count() == 0
    assert page.locator("#wt-point option").count() > 1
    with page.expect_download() as info:
        page.click("#wt-notice")
    assert Path(info.value.path()).read_bytes().startswith(b"%PDF")
    _done(page, errors)


@pytest.mark.parametrize("size", list(SIZES))
def test_the_report_downloads_each_file_with_the_token(server: Server, browser: Browser, size: str) -> None:
    page, errors = _open(browser, server, size, "reports/2026-11", "viewer")
    assert page.locator("#file-report").count() == 0
    assert "仅管理员可报送" in page.inner_text("#filing")
    magic = {"pdf": b"%PDF", "xlsx": b"PK"}
    for what, fmt in [("bulletin", "pdf"), ("year", "xlsx"), ("term", "pdf"), ("hazards", "xlsx"), ("notice", "pdf")]:
        with page.expect_download() as info:
            page.click(f"#more-downloads button[data-dl='{what}'][data-format='{fmt}']")
        assert Path(info.value.path()).read_bytes().startswith(magic[fmt]), what
    assert "2026秋季学期" in page.locator("#dl-term").inner_text()
    assert page.locator("#dl-term").input_value() == "2026秋季学期"  # the month's own term
    assert not _small_targets(page, "#filing button, #more-downloads button, #more-downloads select")
    _shot(page, f"report-downloads-{size}")
    _done(page, errors)


def test_an_admin_files_the_month_and_sees_who_filed_it(server: Server, browser: Browser) -> None:
    page, errors = _open(browser, server, "desk", "reports/2026-11", "admin")
    assert page.inner_text("#filed-status") == "该月尚未报送"
    page.click("#file-report")
    page.click("#file-yes")
    _saved(page, "filed:1")
    status = page.locator("#filed-status")
    assert status.get_attribute("data-version") == "1"
    assert "已报送" in status.inner_text()
    assert "陈志明" in status.inner_text()
    assert "chen" not in status.inner_text()
    with page.expect_download() as info:
        page.click("#filed-files button[data-format='pdf']")
    assert Path(info.value.path()).read_bytes().startswith(b"%PDF")
    _shot(page, "report-filed-desk")
    page.context.close()
    page, errors = _open(browser, server, "phone", "reports/2026-11", "electrician")
    assert "陈志明" in page.inner_text("#filed-status")
    assert page.locator("#file-report").count() == 0
    _shot(page, "report-filed-phone")
    _done(page, errors)


@pytest.mark.parametrize("size", list(SIZES))
def test_a_device_page_lists_its_own_open_alerts_most_severe_first(server: Server, browser: Browser,
                                                                   size: str) -> None:
    page, errors = _open(browser, server, size, "device/ta-fountain", "viewer")
    items = page.locator("#device-alerts li")
    assert items.count() >= 1
    severities = items.evaluate_all("els => els.map(e => e.className.replace('sev-', ''))")
    order = ["critical", "major", "minor", "warning"]
    assert severities == sorted(severities, key=order.index)
    got = page.evaluate("""() => fetch('/api/v1/alerts?status=open&limit=200',
        {headers: {Authorization: 'Bearer ' + localStorage.getItem('mw-token')}}).then((r) => r.json())""")
    assert sorted(int(x) for x in items.evaluate_all("els => els.map(e => e.dataset.alert)")) == sorted(
        a["id"] for a in got if a["device"] == "ta-fountain")
    assert page.locator("#device-alerts button").count() == 0  # a viewer: nothing to act with
    last = page.evaluate("""() => { const o = echarts.getInstanceByDom(document.querySelector('#device-chart'))
        .getOption(); const d = o.series[0].data; return [o.useUTC, new Date(d[d.length - 1][0]).toISOString()]; }""")
    assert last[0] is True
    assert last[1].startswith("2026-11-20T14:50")  # the last reading at the site's 14:50, in a New York browser
    assert not _small_targets(page, "#device-alerts a")
    _shot(page, f"device-alerts-{size}")
    page.goto(f"{server.base}/#device/c1-elec")  # a meter without alerts says so
    page.wait_for_selector("body[data-shown='device/c1-elec']")
    assert page.locator("#device-alerts").get_attribute("data-count") == "0"
    _done(page, errors)


@pytest.mark.parametrize("view", ["hazards", "watertests", "reports/2026-11", "device/ta-fountain"])
def test_each_view_reads_in_english_with_no_key_left_untranslated(server: Server, browser: Browser,
                                                                   view: str) -> None:
    page, errors = open_page(browser, "desk", BROWSER_TZ)
    page.clock.set_fixed_time(NOW)
    page.goto(f"{server.base}/#token={server.tokens['admin']}")
    page.wait_for_selector("body[data-shown='overview']")
    page.click("#lang")
    page.wait_for_selector("html[lang='en'] body[data-shown='overview']")
    page.goto(f"{server.base}/#{view}")
    page.wait_for_selector(f"body[data-shown='{view}']")
    for opener in ("#hz-new", "#wt-new-lab", "details.hz-act summary >> nth=0", "details.wt-due summary"):
        if page.locator(opener).count():
            page.locator(opener).click()
    text = page.inner_text("#view")
    left = re.findall(r"\b(?:hz|wt|dl|file|dev|nav)_[a-z_]+\b", text)
    assert not left, left  # a key shown as itself: its translation is missing
    heading = {"hazards": "Hazard ledger", "watertests": "Drinking-water tests", "reports/2026-11": "Downloads",
               "device/ta-fountain": "This device's open alerts"}[view]
    assert heading in text
    _shot(page, "en-" + view.split("/")[0])
    _done(page, errors)
