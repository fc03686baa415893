"""The console says why a meter is silent where people look: the overview's silent-devices list and the device
page give the gateway's reason in words (zh-CN first, English complete), when the meter last answered on the
site's clock, and its success rate; at a desk's size and a phone's, with screenshots for a person to look at."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page

from ingest.decode import Inbound
from tests.support.console import SHOTS, SIZES, open_page
from tests.support.harness import token_headers
from tests.support.meterhealth import CAMPUS_YAML, answered, failed
from tests.support.servers import serving
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
DEAD = ("c1-elec", "c1-kitchen", "c1-water")  # gw-canteen-1's rs485-1: no meter answers
REGISTER = {"c1-water": "volume_m3", "c1-gas": "volume_m3"}


@dataclass
class Console:
    base: str
    token: str
    last_answer: int


def _batch(now: int) -> tuple[list[Inbound], int]:
    """Six hours of readings; the dead bus's meters stop three hours ago and their gateway says why."""
    out, dead_since = [], now - 3 * 3600
    for ts in range(now - 6 * 3600, now, 900):
        for dev in ("c1-elec", "c1-kitchen", "c1-water", "c1-gas", "d1-elec"):
            if dev in DEAD and ts > dead_since:
                continue
            body = {"ts": ts, "values": {REGISTER.get(dev, "energy_kwh"): 1000 + (ts - now) / 3600 + 6}}
            out.append(Inbound(f"campus/s1/{dev}/reading", json.dumps(body).encode(), ts * 1000))
    last = max(ts for ts in range(now - 6 * 3600, now, 900) if ts <= dead_since)
    out += [Inbound(f"campus/s1/{d}/health", failed(d, now - 60, last_answer=last, rate=0.82), now * 1000)
            for d in DEAD]
    out += [Inbound(f"campus/s1/{d}/health", answered(d, now - 60), now * 1000) for d in ("c1-gas", "d1-elec")]
    return out, last


@pytest.fixture(scope="module")
def console(app_stack: Callable[..., Stack], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    campus = tmp_path_factory.mktemp("health-campus") / "campus.yaml"
    campus.write_text(CAMPUS_YAML, encoding="utf-8")
    batch, last = _batch(int(time.time()))
    stack = app_stack(campus, batch, name="health-console")
    token = token_headers(stack.data, "admin", "zhang")["Authorization"].split()[1]
    with serving(stack.app()) as base:
        yield Console(base, token, last)


def _site_time(epoch_s: int) -> str:  # Asia/Shanghai has no summer time
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(epoch_s + 8 * 3600))


def _show(page: Page, console: Console, view: str) -> None:
    if not page.url.startswith(console.base):
        page.goto(f"{console.base}/#token={console.token}")
        page.wait_for_selector("body[data-shown=overview]")
    page.evaluate("delete document.body.dataset.shown")
    if page.evaluate("location.hash") == f"#{view}":  # the same address: shown again on a hashchange
        page.evaluate("window.dispatchEvent(new HashChangeEvent('hashchange'))")
    else:
        page.goto(f"{console.base}/#{view}")
    page.wait_for_selector(f"body[data-shown='{view}']")


def _fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page scrolls sideways: {width} px"  # type: ignore[index]


@pytest.mark.parametrize("size", list(SIZES))
def test_silent_meters_say_why_in_both_languages(console: Console, browser: Browser, size: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page, errors = open_page(browser, size)
    try:
        _show(page, console, "overview")
        silent = page.locator("#silent")
        item = silent.locator("li[data-device=c1-elec]")
        text = item.inner_text()
        assert "没有应答：rs485-1 上的 000012345678 三次未应答" in text
        assert f"最后应答 {_site_time(console.last_answer)}" in text
        assert "成功率 82%" in text
        assert "一食堂集中器" in text  # names, not ids
        assert "gw-canteen-1" not in text
        assert {page.get_attribute(f"#silent li[data-device={d}] .health", "data-code") for d in DEAD} == {"no_answer"}
        assert silent.locator("li[data-device=d1-elec]").count() == 0
        _fits(page)
        page.screenshot(path=str(SHOTS / f"health-overview-{size}.png"), full_page=True)

        _show(page, console, "device/c1-elec")
        line = page.inner_text("#device-health")
        assert "没有应答：rs485-1 上的 000012345678 三次未应答" in line
        assert f"最后应答 {_site_time(console.last_answer)}" in line
        assert "成功率 82%" in line
        _fits(page)
        page.screenshot(path=str(SHOTS / f"health-device-{size}.png"), full_page=True)

        _show(page, console, "device/d1-elec")
        assert "正常应答" in page.inner_text("#device-health")

        page.click("#lang")
        page.wait_for_selector("html[lang='en'] body[data-shown]")
        _show(page, console, "device/c1-elec")
        line = page.inner_text("#device-health")
        assert "no answer from 000012345678 on rs485-1 after 3 tries" in line
        assert f"last answered {_site_time(console.last_answer)}" in line
        assert "success rate 82%" in line
        assert "polled by 一食堂集中器 · rs485-1" in line
        _show(page, console, "overview")
        assert "no answer from 000012345678" in page.inner_text("#silent li[data-device=c1-elec]")
        _fits(page)
        page.screenshot(path=str(SHOTS / f"health-overview-en-{size}.png"), full_page=True)
        assert not errors, errors
    finally:
        page.context.close()
