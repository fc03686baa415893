"""The console's 抄表 page in headless Chromium: an electrician on a phone sees this month's meters read by hand, their
own zone first, the last reading beside each field; a lower number is flagged as it is typed; a reading with the
dial's photo is recorded (who and when from the token and the server); a big jump asks to be confirmed, then is
taken; done and left count up. Screenshots at a desk's and a phone's size, in Chinese and English."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page

from api.tokens import TokenStore
from campus.clock import FrozenClock
from campus.db import DataDir
from records.manual_store import ManualReadingStore
from tests.support.console import SHOTS, open_page
from tests.support.harness import TZ
from tests.support.manual import body, manual_campus
from tests.support.records import ms, png
from tests.support.servers import serving
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=TZ)  # a Friday: November's reading is due by Monday the 30th
BEFORE = {"m-dorm1-water": 1000.0, "m-boiler-elec": 5000.0, "m-teach-a-water": 300.0, "m-office-gas": 80.0}


@dataclass
class Server:
    base: str
    wang: str   # an electrician the duty roster has on zone-north
    data: Path
    clock: FrozenClock


@pytest.fixture(scope="module")
def server(app_stack: Callable[..., Stack], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    stack = app_stack(manual_campus(tmp_path_factory.mktemp("campus")), name="reading-console")
    tokens = TokenStore(DataDir(stack.data).state)
    wang, office = tokens.create("wang", "electrician"), tokens.create("孙海", "electrician")
    tokens.close()
    clock = FrozenClock(ms(dt.datetime(2026, 10, 28, 9, 0, tzinfo=TZ)))
    with serving(stack.app(clock)) as base, httpx.Client(base_url=base, timeout=10,
                                                         headers={"Authorization": f"Bearer {office}"}) as c:
        for device, value in BEFORE.items():  # last month's round
            assert c.post("/api/v1/readings/manual", json=body(device, value)).status_code == 201
        clock.set(ms(dt.datetime(2026, 11, 20, 9, 0, tzinfo=TZ)))
        assert c.post("/api/v1/readings/manual", json=body("m-office-gas", 95.0)).status_code == 201
        clock.set(ms(NOW))
        yield Server(base, wang, stack.data, clock)


def _open(browser: Browser, server: Server, size: str, lang: str | None = None) -> tuple[Page, list[str]]:
    page, errors = open_page(browser, size)
    page.clock.set_fixed_time(NOW)  # the browser's clock is the server's frozen one
    if lang is not None:
        page.add_init_script(f"localStorage.setItem('mw-lang', {lang!r})")
    page.goto(f"{server.base}/#token={server.wang}")
    page.wait_for_selector("body[data-shown='overview']")
    page.goto(f"{server.base}/#reading")
    page.wait_for_selector("body[data-shown='reading']")
    return page, errors


def test_an_electrician_reads_the_zones_meters_on_a_phone(server: Server, browser: Browser, tmp_path: Path) -> None:
    page, errors = _open(browser, server, "phone")
    zones = page.locator("article.reading-zone")
    assert [zones.nth(i).get_attribute("data-zone") for i in range(zones.count())] == ["zone-north", "zone-south"]
    assert "我的责任区" in zones.first.inner_text()
    assert "应于 2026-11-30 前完成" in zones.first.inner_text()
    count = page.locator("#reading-count")
    assert count.inner_text() == "本月已抄 1 / 共 4 块，剩余 3 块"
    water = page.locator("li.meter[data-device='m-dorm1-water']")
    assert "上次读数 1,000.00 m³" in water.inner_text()
    assert water.locator("input[type='file']").get_attribute("capture") == "environment"
    assert water.locator("input[type='file']").get_attribute("accept") == "image/*"

    field = water.locator("input[name='register']")
    field.fill("990")  # a typo: lower than the last reading, flagged before it is sent
    assert "低于上次读数 1,000.00" in water.locator("[data-diff]").inner_text()
    field.fill("1012.5")
    assert "+12.50 m³" in water.locator("[data-diff]").inner_text()
    photo = tmp_path / "dial.png"
    photo.write_bytes(png(40, 30))
    water.locator("input[type='file']").set_input_files(str(photo))
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "reading-phone.png"), full_page=True)
    water.locator("button[type='submit']").click()
    page.wait_for_selector("body[data-saved]")
    assert "已记录 1,012.50 m³（wang）" in water.inner_text()
    assert count.inner_text() == "本月已抄 2 / 共 4 块，剩余 2 块"

    # the boiler room's meter: 20 kW for 721 h (28 Oct 09:00 to now) is at most 14,420 kWh;
    # 5000 → 7000 × 10 (CT) is 20,000 kWh
    elec = page.locator("li.meter[data-device='m-boiler-elec']")
    elec.locator("input[name='register']").fill("7000")
    elec.locator("button[type='submit']").click()
    page.wait_for_selector("body[data-confirming='m-boiler-elec']")
    confirm = elec.locator("[data-confirm]")
    assert confirm.is_visible()
    said = confirm.inner_text()
    assert "较上次增加 20,000.0 kWh（含倍率 ×10），超过额定容量 20.0 kW × 721 小时 = 14,420.0 kWh" in said
    page.screenshot(path=str(SHOTS / "reading-phone-confirm.png"), full_page=True)
    saved_before = page.locator("body").get_attribute("data-saved")
    confirm.locator("[data-yes]").click()
    page.wait_for_function(f"document.body.dataset.saved !== {saved_before!r}")
    assert count.inner_text() == "本月已抄 3 / 共 4 块，剩余 1 块"
    assert not confirm.is_visible()

    store = ManualReadingStore(DataDir(server.data).records)
    try:
        rows = {r.device: r for r in store.listing("yucai", since_ms=ms(NOW))}
    finally:
        store.close()
    assert (rows["m-dorm1-water"].read_by, rows["m-dorm1-water"].entered_ms) == ("wang", ms(NOW))
    assert len(rows["m-dorm1-water"].photos) == 1
    assert (rows["m-boiler-elec"].values, rows["m-boiler-elec"].confirmed) == ({"energy_kwh": 7000.0}, True)
    # every control a thumb presses is at least 44 px (a checkbox: its label)
    targets = "li.meter button:visible, li.meter input:visible:not([type=checkbox]), li.meter label.replacement"
    for target in page.locator(targets).all():
        box = target.bounding_box()
        assert box is not None
        assert box["height"] >= 44, target.evaluate("e => e.outerHTML")
    # Chromium logs every answer ≥ 400 as a console error: the one 409 is the confirm step asked for above
    assert [e for e in errors if "favicon" not in e] == ["Failed to load resource: the server responded with a "
                                                        "status of 409 (Conflict)"]
    page.context.close()


def test_the_reading_page_at_a_desk_and_in_english(server: Server, browser: Browser) -> None:
    page, errors = _open(browser, server, "desk")
    assert page.locator("header nav a.active").inner_text() == "抄表"
    page.screenshot(path=str(SHOTS / "reading-desk.png"), full_page=True)
    page.goto(f"{server.base}/#device/m-office-gas")  # the meter's page lists its readings by hand, with who
    page.wait_for_selector("body[data-shown='device/m-office-gas']")
    by_hand = page.locator("#device-by-hand")
    assert "人工抄表记录" in by_hand.inner_text()
    assert by_hand.locator("li").count() == 2
    assert "95.00 m³ · 孙海" in by_hand.locator("li").first.inner_text()
    assert not [e for e in errors if "favicon" not in e]
    page.context.close()
    page, errors = _open(browser, server, "phone", lang="en")
    text = page.locator("#view").inner_text()
    assert "Monthly meter reading" in text
    assert "My zone" in text
    assert "Last reading" in text
    assert "Photo of the dial" in text
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in page.locator("#reading-count").inner_text())
    page.screenshot(path=str(SHOTS / "reading-phone-en.png"), full_page=True)
    assert not [e for e in errors if "favicon" not in e]
    page.context.close()
