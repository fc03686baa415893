"""The console's check rounds and sweep in headless Chromium: an electrician on a phone records the due patrol with
a problem and a photo (who and when filled in by the server); the sweep page on a vacation night shows the lit
teaching building flagged and saves the sweep as check rounds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from api.tokens import TokenStore
from campus.clock import FrozenClock
from campus.db import DataDir
from records.store import RecordStore
from simulators.model import Simulation, load_campus_doc
from tests.support.console import SHOTS, open_page
from tests.support.drive import inbound
from tests.support.harness import TZ
from tests.support.paths import SAMPLE
from tests.support.records import ms, png
from tests.support.servers import serving
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
NIGHT = dt.datetime(2026, 7, 20, 23, 30, tzinfo=TZ)  # summer vacation; the last term ended on 10 July


@dataclass
class Server:
    base: str
    electrician: str
    data: Path
    zhao: str = ""  # on the roster for zone-south (a token named by the person's roster id)


@pytest.fixture(scope="module")
def server(app_stack: Callable[..., Stack]) -> Iterator[Server]:
    sim = Simulation(load_campus_doc(SAMPLE), start=NIGHT - dt.timedelta(days=4, hours=23, minutes=30), end=NIGHT,
                     seed=5, faults=["lights_on_night@2026-07-20T22:00"])
    stack = app_stack(SAMPLE, inbound(sim.publications()), name="records-console", evaluate=False)
    tokens = TokenStore(DataDir(stack.data).state)
    electrician = tokens.create("李强", "electrician")
    zhao = tokens.create("zhao", "electrician")
    tokens.close()
    with serving(stack.app(FrozenClock(ms(NIGHT)))) as base:
        yield Server(base, electrician, stack.data, zhao)


def _open(browser: Browser, server: Server, size: str, view: str, token: str | None = None,
          lang: str | None = None) -> tuple[Page, list[str]]:
    """The electrician's console on ``view``, logged in by the token link (in ``lang``, else zh-CN)."""
    page, errors = open_page(browser, size)
    if lang is not None:
        page.add_init_script(f"localStorage.setItem('mw-lang', {lang!r})")
    page.goto(f"{server.base}/#token={token or server.electrician}")
    page.wait_for_selector("body[data-shown='overview']")
    page.goto(f"{server.base}/#{view}")
    page.wait_for_selector(f"body[data-shown='{view}']")
    return page, errors


def test_an_electrician_records_the_due_round_on_a_phone_with_a_photo(server: Server, browser: Browser,
                                                                     tmp_path: Path) -> None:
    page, errors = _open(browser, server, "phone", "rounds")
    due = page.locator(".due-list li")
    assert due.count() > 0
    first = page.locator(".due-list li", has_text="重点部位检查").first
    first.locator("button").click()
    form = page.locator("#round-form")
    assert form.locator("input[type='radio']:checked").count() == 0  # #21: nothing answered until it is
    form.locator("input[name='item-1'][value='problem']").check()
    form.locator("input[name='note-1']").fill("消防水泵控制柜指示灯不亮")
    photo = tmp_path / "pump.png"
    photo.write_bytes(png(32, 24))
    form.locator("input[name='photo-1']").set_input_files(str(photo))
    form.locator("button[type='submit']").click()  # three items not answered: refused on the page, by name
    error = page.locator("#round-error")
    error.filter(has_text="尚未选择").wait_for()
    assert "1. 设备运行参数正常" in error.inner_text()
    assert "2. 消防水泵" not in error.inner_text()
    assert page.locator("li.missing").count() == 3
    assert page.locator("body[data-saved]").count() == 0
    for i in (0, 2, 3):
        form.locator(f"input[name='item-{i}'][value='ok']").check()
    assert page.locator("li.missing").count() == 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "rounds-phone.png"), full_page=True)
    form.locator("button[type='submit']").click()
    page.wait_for_selector("body[data-saved]")
    saved = int(page.locator("body").get_attribute("data-saved") or 0)
    assert "登记隐患 1 项" in page.locator("#round-saved").inner_text()
    store = RecordStore(DataDir(server.data).records)
    try:
        row = store.round(saved)
        hazards = store.hazards("yucai")
    finally:
        store.close()
    assert (row.template, row.recorded_by, row.recorded_ms) == ("key-facility", "李强", ms(NIGHT))
    assert [len(i["photos"]) for i in row.items] == [0, 1, 0, 0]  # the photo of the item it shows
    assert [i["ok"] for i in row.items] == [True, False, True, True]
    assert [h.round_id for h in hazards] == [saved]
    assert not [e for e in errors if "favicon" not in e]
    page.context.close()


def test_the_sweep_page_flags_the_lit_teaching_building_and_saves_a_round(server: Server, browser: Browser) -> None:
    page, errors = _open(browser, server, "desk", "sweep")
    flagged = page.locator("table.sweep tr.flagged")
    assert flagged.count() == 1
    assert flagged.get_attribute("data-device") == "ta-elec"
    assert "教学楼A栋" in flagged.inner_text()
    assert page.locator(".notice").is_visible()  # a vacation night: what is flagged should be off
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "sweep-desk.png"), full_page=True)
    page.locator("#sweep-save").click()
    page.wait_for_selector("body[data-saved]")
    assert "已保存为巡查记录" in page.locator("#sweep-saved").inner_text()
    assert not [e for e in errors if "favicon" not in e]
    page.context.close()


def test_rounds_on_a_phone_in_english_have_44px_targets_and_the_own_zone_first(server: Server,
                                                                                browser: Browser) -> None:
    """#21: 13 px radios and 32 px buttons, template names and items in Chinese on the English page, one photo per
    round, and the electrician's own zone not first."""
    page, errors = _open(browser, server, "phone", "rounds", token=server.zhao, lang="en")
    due = page.locator(".due-list li")
    assert due.count() > 1
    zones = [due.nth(i).get_attribute("data-zone") for i in range(due.count())]
    assert zones[0] == "zone-south"
    assert zones == sorted(zones, key=lambda z: z != "zone-south")  # every one of zhao's before the others
    assert "My zone" in due.first.inner_text()
    assert "Weekly check of water, power and gas lines" in page.locator(".due-list").inner_text()
    for i in range(due.count()):
        box = due.nth(i).locator("button").bounding_box()
        assert box is not None
        assert box["height"] >= 44
        assert box["width"] >= 44
    page.locator(".due-list li", has_text="Key facility check").first.locator("button").click()
    form = page.locator("#round-form")
    form.wait_for()
    text = form.inner_text()
    assert "Equipment running within its readings, no alarms" in text
    assert "设备运行" not in text
    assert "Key facility check" in page.locator("#round-form-card h3").inner_text()
    targets = [*(form.locator("label.choice").nth(i) for i in range(form.locator("label.choice").count())),
               *(form.locator("input[type='file']").nth(i) for i in range(form.locator("input[type='file']").count())),
               form.locator("button[type='submit']")]
    assert len(targets) == 4 * 2 + 4 + 1  # two answers and a photo for each of the four items, and submit
    for target in targets:
        box = target.bounding_box()
        assert box is not None
        assert box["height"] >= 44, target
        assert box["width"] >= 44, target
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing wider than the phone
    form.locator("button[type='submit']").click()
    page.locator("#round-error").filter(has_text="Not answered yet").wait_for()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "rounds-phone-en.png"), full_page=True)
    assert not [e for e in errors if "favicon" not in e]
    page.context.close()
