"""The sweep page in headless Chromium on a school-day night after weeks of a canteen left on around the clock
(the demo's over_budget, +40 kW, running for all the history there is): the canteen is flagged against what a
closed canteen may draw, water and gas meters are listed too, every column has a header, the largest excess first."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser

from api.tokens import TokenStore
from campus.clock import FrozenClock
from campus.db import DataDir
from simulators.model import Simulation, load_campus_doc
from tests.support.console import SHOTS, Served, open_page
from tests.support.drive import inbound
from tests.support.harness import TZ
from tests.support.paths import SAMPLE
from tests.support.records import ms
from tests.support.servers import serving
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
NIGHT = dt.datetime(2026, 11, 18, 23, 30, tzinfo=TZ)  # a Wednesday in the autumn term


@pytest.fixture(scope="module")
def server(app_stack: Callable[..., Stack]) -> Iterator[Served]:
    sim = Simulation(load_campus_doc(SAMPLE), start=NIGHT - dt.timedelta(days=9, hours=23, minutes=30), end=NIGHT,
                     seed=7, faults=["over_budget"])
    stack = app_stack(SAMPLE, inbound(sim.publications()), name="sweep-console", evaluate=False)
    tokens = TokenStore(DataDir(stack.data).state)
    token = tokens.create("王芳", "electrician")
    tokens.close()
    with serving(stack.app(FrozenClock(ms(NIGHT)))) as base:
        yield Served(base, token)


@pytest.mark.parametrize(("size", "lang"), [("desk", "zh-CN"), ("phone", "en")])
def test_the_sweep_page_flags_a_canteen_on_all_night_and_lists_water_and_gas(server: Served, browser: Browser,
                                                                           size: str, lang: str) -> None:
    page, errors = open_page(browser, size)
    page.goto(f"{server.base}/#token={server.token}")
    page.wait_for_selector("body[data-shown='overview']")
    page.evaluate(f"localStorage.setItem('mw-lang', '{lang}')")
    page.goto(f"{server.base}/#sweep")
    page.reload()
    page.wait_for_selector("body[data-shown='sweep'] table.sweep")
    flagged = page.locator("table.sweep tr.flagged")
    assert flagged.count() == 1
    assert flagged.get_attribute("data-device") == "c1-elec"
    assert re.search("第一食堂", flagged.inner_text())
    assert ("关闭中" if lang == "zh-CN" else "closed") in flagged.inner_text()
    headers = page.locator("table.sweep thead th").all_inner_texts()
    assert all(h.strip() for h in headers), headers  # the kind column too
    assert ("类型" if lang == "zh-CN" else "Kind") in headers
    kinds = set(page.locator("table.sweep tbody tr").evaluate_all("rows => rows.map(r => r.dataset.kind)"))
    assert kinds == {"electricity", "water", "gas"}
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"sweep-long-fault-{size}-{lang}.png"), full_page=True)
    assert not [e for e in errors if "favicon" not in e]
    page.context.close()
