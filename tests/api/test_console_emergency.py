"""The emergency plans and drills in the console, in headless Chromium, against the sample campus's plans on a frozen
clock (tests/emergency/support.py): a gas-leak drill started through the API is marked 演练 in the phone's alert
list with its plan's first steps; the electrician on duty acknowledges it and ticks two steps from the phone (a note,
a photo), and the API's run says he did; a closed run offers no tick; the drills page lists each drill with its
figures and record, the plans due, the plans themselves, and lets an admin start one. Times are the site's, whatever
the browser's time zone. (The same drill through the API alone: tests/emergency/test_drill_flow.py.)"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from campus.clock import FrozenClock
from tests.emergency.support import emergency_served
from tests.support.console import SHOTS, open_page
from tests.support.harness import token_headers
from tests.support.peers import SmtpSink
from tests.support.records import png
from tests.support.servers import wait_for

pytestmark = pytest.mark.integration
TZ = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 12, 7, 21, 0, tzinfo=TZ)  # a Monday night: 李强 (li) is on duty
ABROAD = "America/Los_Angeles"  # the browser's zone in some tests: the console shows the site's clock all the same
SHOT_DIR = Path(os.environ.get("METERWATCH_EMERGENCY_SHOTS") or SHOTS)


@dataclass
class Server:
    base: str
    admin: str
    li: str            # the electrician on duty (李强 on the roster)
    clock: FrozenClock
    gas: dict          # the gas-leak drill, left running for the phone
    burst: dict        # a water-burst drill, ticked and resolved through the API: a closed run with figures


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].split()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    clock = FrozenClock(int(T0.timestamp() * 1000))
    data = tmp_path_factory.mktemp("emergency-console")
    with SmtpSink() as smtp, emergency_served(data, smtp.port, clock) as (base, alerts):
        alerts.tick()  # the campus's own alerts first
        admin = token_headers(data, "admin", "office-admin")
        li = token_headers(data, "electrician", "li")
        with httpx.Client(base_url=base + "/api/v1", timeout=30) as api:
            burst = api.post("/drills", headers=admin, json={"plan": "water-burst", "building": "dorm-1"})
            assert burst.status_code == 201, burst.text
            b = burst.json()
            clock.advance(45)
            assert api.post(f"/alerts/{b['alert_id']}/ack", headers=li, json={"comment": None}).status_code == 200
            clock.advance(300)
            assert api.post(f"/alerts/{b['alert_id']}/plan/steps/1", headers=li,
                            json={"note": "地下室东侧管道井渗水"}).status_code == 200
            clock.advance(600)
            assert api.post(f"/alerts/{b['alert_id']}/resolve", headers=li,
                            json={"reason": "演练结束"}).status_code == 200
            clock.set(int(T0.timestamp() * 1000))
            gas = api.post("/drills", headers=admin, json={"plan": "canteen-gas", "device": "c1-gas"})
            assert gas.status_code == 201, gas.text
        wait_for(lambda: [m for m in smtp.received if "li@yucai.edu.cn" in m.to and f"/#plan/{gas.json()['alert_id']}"
                          in m.body], 15, "the gas drill's message to the electrician on duty")
        yield Server(base, _token(admin), _token(li), clock, gas.json(), b)


def _open(browser: Browser, server: Server, size: str, view: str, token: str,
          timezone: str = "Asia/Shanghai") -> tuple[Page, list[str]]:
    page, errors = open_page(browser, size, timezone)
    page.clock.set_fixed_time(dt.datetime.fromtimestamp(server.clock.now_ms() / 1000, TZ))  # "since": the server's now
    page.goto(f"{server.base}/#token={token}")
    page.wait_for_selector("body[data-shown='overview']")
    go(page, server, view)
    return page, errors


def go(page: Page, server: Server, view: str) -> None:
    page.goto(f"{server.base}/#{view}")
    page.wait_for_selector(f"body[data-shown='{view}']")


def shot(page: Page, name: str) -> None:
    SHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOT_DIR / f"{name}.png"), full_page=True)


def no_overflow(page: Page) -> None:
    """Nothing wider than the phone: the page does not scroll sideways."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.evaluate(
        "[...document.querySelectorAll('#view *')].filter((e) => e.getBoundingClientRect().right > innerWidth + 1)"
        ".slice(0, 5).map((e) => e.outerHTML.slice(0, 120))")


def test_the_drill_is_marked_and_two_steps_are_ticked_from_the_phone(server: Server, browser: Browser,
                                                                     tmp_path: Path) -> None:
    alert_id = server.gas["alert_id"]
    page, errors = _open(browser, server, "phone", "alerts", server.li, timezone=ABROAD)
    card = page.locator(f".alert-card[data-alert='{alert_id}']")
    expect(card.locator(".badge.drill")).to_have_text("演练")
    assert card.get_attribute("data-drill") == str(server.gas["id"])
    assert page.locator(".alert-card .badge.drill").count() == 1  # the resolved drill is not an open alert
    box = card.locator(".plan-box")
    expect(box.locator(".plan-name")).to_have_text("食堂燃气泄漏应急预案")
    expect(box.locator(".plan-next li")).to_have_count(2)
    first = box.locator(".plan-next li").first.inner_text()
    assert "立即赶到现场" in first
    assert "值班电工" in first
    assert "21:10 前" in first
    no_overflow(page)
    shot(page, "alerts-drill-phone")

    card.get_by_role("link", name="打开预案清单").click()
    page.wait_for_selector(f"body[data-shown='plan/{alert_id}']")
    expect(page.locator("header nav a.active")).to_have_text("告警")
    head = page.locator(".plan-head")
    expect(head.locator(".badge.drill")).to_be_visible()
    expect(page.locator(".plan-step")).to_have_count(6)
    step = page.locator(".plan-step[data-step='1']")
    assert "值班电工" in step.inner_text()
    assert "21:10 前" in step.inner_text()
    assert page.locator("ul.contacts a[href='tel:96777']").count() == 1
    page.wait_for_function("document.querySelector(\"li.place[data-place='1'] img\")?.src.startsWith('blob:')")

    server.clock.advance(60)
    page.locator("#plan-ack").click()
    page.wait_for_selector(f"body[data-acted='{alert_id}'][data-shown='plan/{alert_id}']")
    expect(page.locator(".plan-head")).to_have_attribute("data-status", "acknowledged")
    assert page.locator("#plan-ack").count() == 0

    server.clock.advance(120)  # 21:03
    form = step.locator("form.tick-form")
    expect(page.locator("form.tick-form:visible")).to_have_count(0)  # a step's form opens with its button
    step.locator("button.tick").click()
    expect(form).to_be_visible()
    form.locator("input[name='note']").fill("门外无燃气味，灶具均已关闭")
    form.locator("button[type='submit']").click()
    expect(page.locator(".plan-step[data-step='1']")).to_have_attribute("data-state", "done")
    assert "李强 完成于 21:03" in page.locator(".plan-step[data-step='1']").inner_text()

    server.clock.advance(240)  # 21:07
    photo = tmp_path / "valve.png"
    photo.write_bytes(png(64, 48))
    two = page.locator(".plan-step[data-step='2']")
    two.locator("button.tick").click()
    two.locator("input[name='note']").fill("燃气总阀已关")
    two.locator("input[name='photo']").set_input_files(str(photo))
    two.locator("button[type='submit']").click()
    expect(page.locator(".plan-step[data-step='2']")).to_have_attribute("data-state", "done")
    page.wait_for_function("document.querySelector(\".plan-step[data-step='2'] .thumbs img\")?.src.startsWith('blob:')")
    assert page.locator(".plan-step[data-step='3'] button.tick").count() == 1
    no_overflow(page)
    shot(page, "plan-phone")

    run = httpx.get(f"{server.base}/api/v1/alerts/{alert_id}/plan",
                    headers={"Authorization": f"Bearer {server.li}"}, timeout=30).json()
    steps = run["steps"]
    assert [(s["state"], s["done_by"], s["done_by_name"]) for s in steps[:2]] == [("done", "li", "李强")] * 2
    assert [s["note"] for s in steps[:2]] == ["门外无燃气味，灶具均已关闭", "燃气总阀已关"]
    assert [len(s["photos"]) for s in steps[:2]] == [0, 1]
    assert [s["done_at"][11:19] for s in steps[:2]] == ["21:03:00", "21:07:00"]
    assert [s["state"] for s in steps[2:]] == ["open"] * 4

    page.locator("#lang").click()  # the checklist in English: the plan's own texts too
    page.wait_for_function("document.documentElement.lang === 'en' && document.body.dataset.shown")
    text = page.locator("#view").inner_text()
    assert "Gas leak in a canteen" in text
    assert "DRILL" in text
    assert "by 21:10" in text
    assert "done by 李强 at 21:03" in text
    assert "Places (valves, breakers)" in text
    assert "立即" not in text
    assert "完成" not in text
    no_overflow(page)
    shot(page, "plan-phone-en")
    assert not [e for e in errors if "favicon" not in e], errors
    page.context.close()


def test_a_closed_run_offers_no_tick(server: Server, browser: Browser) -> None:
    alert_id = server.burst["alert_id"]
    page, errors = _open(browser, server, "desk", f"plan/{alert_id}", server.li)
    expect(page.locator(".plan-step")).to_have_count(6)
    assert page.locator("button.tick, #plan-ack").count() == 0
    expect(page.locator(".notice.closed")).to_contain_text("21:15")  # resolved 15 min 45 s after it started
    states = [page.locator(".plan-step").nth(i).get_attribute("data-state") for i in range(6)]
    assert states == ["done", "skipped", "skipped", "skipped", "skipped", "skipped"]
    assert "地下室东侧管道井渗水" in page.locator(".plan-step[data-step='1']").inner_text()
    assert "关闭人 李强 · 演练结束" in page.locator(".plan-head").inner_text()
    shot(page, "plan-closed-desk")
    go(page, server, f"plan/{server.gas['alert_id']}")  # the open run at a desk
    expect(page.locator(".plan-step button.tick")).not_to_have_count(0)
    shot(page, "plan-desk")
    go(page, server, "alerts")
    expect(page.locator(f".alert-card[data-alert='{server.gas['alert_id']}'] .badge.drill")).to_be_visible()
    shot(page, "alerts-drill-desk")
    assert not [e for e in errors if "favicon" not in e], errors
    page.context.close()


def test_the_drills_page_lists_figures_due_plans_and_starts_one(server: Server, browser: Browser) -> None:
    page, errors = _open(browser, server, "desk", "drills", server.admin, timezone=ABROAD)
    expect(page.locator("header nav a.active")).to_have_text("应急演练")
    burst = page.locator(f".drill-row[data-drill='{server.burst['id']}']")
    text = burst.inner_text()
    assert "供水管道爆管与夜间漏水应急预案" in text
    assert "学生宿舍1号楼" in text
    assert "已结束" in text
    assert "00:45" in text
    assert "15:45" in text
    assert "office-admin 发起于 2026-12-07 21:00" in text
    assert burst.locator("button.record").count() == 1
    gas = page.locator(f".drill-row[data-drill='{server.gas['id']}']")
    assert "进行中" in gas.inner_text()
    assert "食堂" in gas.inner_text()
    assert page.locator("#plans details.plan").count() == 6
    assert page.locator("#drills-due li").count() >= 1
    shot(page, "drills-desk")

    form = page.locator("#drill-form")
    form.locator("select[name='plan']").select_option("power-loss")
    form.locator("select[name='building']").select_option("teach-a")
    assert form.locator("input[name='chain']").is_disabled()  # a path check needs a device
    form.locator("button[type='submit']").click()
    page.wait_for_selector("body[data-saved]")
    new = int(page.locator("body").get_attribute("data-saved") or 0)
    page.wait_for_selector(f".drill-row[data-drill='{new}']")
    expect(page.locator("#drill-started")).to_contain_text(f"已发起演练 #{new}")
    listed = httpx.get(f"{server.base}/api/v1/drills/{new}", headers={"Authorization": f"Bearer {server.admin}"},
                       timeout=30).json()
    assert (listed["plan"], listed["building"], listed["started_by"]) == ("power-loss", "teach-a", "office-admin")
    assert not [e for e in errors if "favicon" not in e], errors
    page.context.close()


def test_the_drills_page_on_a_phone_and_in_english(server: Server, browser: Browser) -> None:
    page, errors = _open(browser, server, "phone", "drills/canteen-gas", server.admin)
    plan = page.locator("details.plan[data-plan='canteen-gas']")
    expect(plan).to_have_attribute("open", "")
    page.wait_for_function("document.querySelector(\"details.plan[data-plan='canteen-gas'] img\")?.src"
                           ".startsWith('blob:')")
    no_overflow(page)
    shot(page, "drills-phone")
    page.locator("#lang").click()
    page.wait_for_function("document.documentElement.lang === 'en' && document.body.dataset.shown")
    text = page.locator("#view").inner_text()
    for words in ("Emergency drills", "Drill records", "Gas leak in a canteen", "Acknowledged", "Emergency plans"):
        assert words in text, words
    assert "演练" not in text
    assert "预案" not in text
    no_overflow(page)
    shot(page, "drills-phone-en")
    assert not [e for e in errors if "favicon" not in e], errors
    page.context.close()


def test_the_electrician_starts_a_plan_by_hand_from_the_phone(server: Server, browser: Browser) -> None:
    """A typhoon warning: 李强 opens the severe-weather plan on his phone and starts it for the power room; the
    console takes him to its checklist, and the alert is a real one (no drill)."""
    page, errors = _open(browser, server, "phone", "drills/severe-weather", server.li)
    form = page.locator("form.plan-start[data-plan='severe-weather']")
    expect(form).to_be_visible()
    form.locator("select[name='building']").select_option("power-room")
    form.locator("input[name='note']").fill("台风红色预警")
    no_overflow(page)
    form.locator("button[type='submit']").click()
    page.wait_for_selector("body[data-shown^='plan/']")
    alert_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator(".plan-step")).to_have_count(5)
    alert = httpx.get(f"{server.base}/api/v1/alerts/{alert_id}", headers={"Authorization": f"Bearer {server.li}"},
                      timeout=30).json()
    assert (alert["rule"], alert["drill"], alert["plan"], alert["acknowledged_by"]) == (
        "emergency", None, "severe-weather", None)
    assert alert["reading"] == "人工启动：台风红色预警"
    shot(page, "plan-started-phone")
    assert not [e for e in errors if "favicon" not in e], errors
    page.context.close()
