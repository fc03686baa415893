"""The water board on the overview in headless Chromium, in Chinese and English: each role under its own heading
with the standard its limits come from (GB 5749 for drinking water, Legionella control for hot water), the
hot-water tank and the heaters not under the drinking-water heading, each value beside its limits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser

from api.tokens import TokenStore
from campus.db import DataDir
from simulators.model import Simulation, load_campus_doc
from tests.support.console import SHOTS, open_page
from tests.support.drive import inbound
from tests.support.harness import TZ
from tests.support.paths import SAMPLE
from tests.support.servers import serving
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(app_stack: Callable[..., Stack]) -> Iterator[tuple[str, str]]:
    end = dt.datetime.now(TZ).replace(second=0, microsecond=0)  # the board greys what is quiet by the wall clock
    sim = Simulation(load_campus_doc(SAMPLE), start=end - dt.timedelta(hours=2), end=end, seed=3, faults=[])
    stack = app_stack(SAMPLE, inbound(sim.publications()), name="water-board", evaluate=False)
    tokens = TokenStore(DataDir(stack.data).state)
    token = tokens.create("看板", "viewer")
    tokens.close()
    with serving(stack.app()) as base:
        yield base, token


@pytest.mark.parametrize(("size", "lang"), [("desk", "zh-CN"), ("phone", "en")])
def test_each_role_under_its_own_heading(server: tuple[str, str], browser: Browser, size: str, lang: str) -> None:
    base, token = server
    page, errors = open_page(browser, size)
    page.goto(f"{base}/#token={token}")
    page.wait_for_selector("body[data-shown='overview']")
    page.evaluate(f"localStorage.setItem('mw-lang', '{lang}')")
    page.reload()
    page.wait_for_selector("#water-board .board-role .tile")
    roles = page.locator("#water-board .board-role").evaluate_all("s => s.map(x => x.dataset.role)")
    # the sample's fountains are direct-drinking fountains (CJ 94-2005), first; it has no plain drinking tap
    assert roles == ["purified_drinking", "canteen_water", "secondary_supply", "water_heater_storage",
                     "water_heater_outlet"]
    fountains = page.locator(".board-role[data-role=purified_drinking]")
    drinking = page.locator(".board-role[data-role=secondary_supply]")
    storage = page.locator(".board-role[data-role=water_heater_storage]")
    assert "CJ 94-2005" in fountains.locator("h4").inner_text()
    assert ("直饮水" if lang == "zh-CN" else "Purified drinking water") in fountains.locator("h4").inner_text()
    assert "6–8.5" in fountains.locator(".tile").first.inner_text()
    assert "GB 5749" in drinking.locator("h4").inner_text()
    assert "GB 5749" not in storage.locator("h4").inner_text()
    assert ("军团菌" if lang == "zh-CN" else "Legionella") in storage.locator("h4").inner_text()
    assert storage.locator(".tile[data-device=bo-tank]").count() == 1
    assert drinking.locator(".tile[data-device=bo-tank], .tile[data-device=c1-heater]").count() == 0
    assert "≥\u00a060" in storage.locator(".tile[data-device=bo-tank]").inner_text()  # held to its own limit
    assert "6.5–8.5" in drinking.locator(".tile").first.inner_text()
    card = page.locator("article.card", has=page.locator("#water-board")).locator("h3").inner_text()
    assert "GB 5749" not in card  # the board holds more than drinking water
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#water-board").screenshot(path=str(SHOTS / f"water-board-{size}-{lang}.png"))
    page.screenshot(path=str(SHOTS / f"overview-water-board-{size}-{lang}.png"), full_page=True)
    assert not [e for e in errors if "favicon" not in e]
    page.context.close()
