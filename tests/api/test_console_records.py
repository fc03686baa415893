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


@pytest.fixture(scope="module")
def server(app_stack: Callable[..., Stack]) -> Iterator[Server]:
    sim = Simulation(load_campus_doc(SAMPLE), start=NIGHT - dt.timedelta(days=4, hours=23, minutes=30), end=NIGHT,
                     seed=5, faults=["lights_on_night@2026-07-20T22:00"])
    stack = app_stack(SAMPLE, inbound(sim.publications()), name="records-console", evaluate=False)
    tokens = TokenStore(DataDir(stack.data).state)
    electrician = tokens.create("李强", "electrician")
    tokens.close()
    with serving(stack.app(FrozenClock(ms(NIGHT)))) as base:
        yield Server(base, electrician, stack.data)


def _open(browser: Browser, server: Server, size: str, view: str) -> tuple[Page, list[str]]:
    """The electrician's console on ``view``, logged in by the token link."""
    page, errors = open_page(browser, size)
    page.goto(f"{server.base}/#token={server.electrician}")
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
    form.locator("input[name='item-1'][value='problem']").check()
    form.locator("input[name='note-1']").fill("消防水泵控制柜指示灯不亮")
    photo = tmp_path / "pump.png"
    photo.write_bytes(png(32, 24))
    form.locator("input[name='photo']").set_input_files(str(photo))
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
    assert len(row.photos) == 1
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
