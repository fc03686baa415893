"""The console's 能流图 view in headless Chromium on the simulated sample campus: the sankey is drawn with the API's
positive links, the table lists every node of GET /flow by name (never an id), in Chinese and English, at a desk's
and a phone's size; a token narrowed to buildings is told why it sees no incomer. Screenshots in build/screenshots."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Browser

from api.tokens import TokenStore
from campus.clock import FrozenClock
from campus.db import DataDir
from campus.scope import Scope
from simulators.model import Simulation, load_campus_doc
from tests.support.console import SHOTS, open_page
from tests.support.drive import inbound
from tests.support.harness import TZ
from tests.support.paths import SAMPLE
from tests.support.servers import serving
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=TZ)
START = dt.datetime(2026, 11, 1, 0, 0, tzinfo=TZ)


@dataclass
class Server:
    base: str
    admin: str
    narrowed: str   # a viewer narrowed to the first canteen and dormitory 1


@pytest.fixture(scope="module")
def server(app_stack: Callable[..., Stack]) -> Iterator[Server]:
    sim = Simulation(load_campus_doc(SAMPLE), start=START, end=NOW, seed=7, faults=[])
    stack = app_stack(SAMPLE, inbound(sim.publications()), name="flow", evaluate=False)
    tokens = TokenStore(DataDir(stack.data).state)
    admin = tokens.create("能源科", "admin")
    narrowed = tokens.create("一食堂", "viewer", scope=Scope.of(sites=["yucai"], buildings=["canteen-1", "dorm-1"]))
    tokens.close()
    with serving(stack.app(FrozenClock(int(NOW.timestamp() * 1000)))) as base:
        yield Server(base, admin, narrowed)


def flow_api(server: Server, token: str, lang: str) -> dict[str, object]:
    with httpx.Client(base_url=server.base, timeout=30, headers={"Authorization": f"Bearer {token}"}) as c:
        got = c.get("/api/v1/flow", params={"month": "2026-11", "kind": "electricity", "lang": lang})
    assert got.status_code == 200, got.text
    return got.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize(("size", "lang", "who"), [("desk", "zh-CN", "admin"), ("phone", "en", "admin"),
                                                   ("phone", "zh-CN", "narrowed")])
def test_the_flow_view_draws_the_api_s_flow(server: Server, browser: Browser, size: str, lang: str, who: str) -> None:
    token = getattr(server, who)
    flow = flow_api(server, token, lang)
    nodes, links = flow["nodes"], flow["links"]
    assert isinstance(nodes, list)
    assert isinstance(links, list)
    page, errors = open_page(browser, size)
    page.clock.set_fixed_time(NOW)
    page.add_init_script(f"localStorage.setItem('mw-lang', {lang!r})")
    page.goto(f"{server.base}/#token={token}")
    page.wait_for_selector("body[data-shown='overview']")
    page.goto(f"{server.base}/#flow")
    page.wait_for_selector("body[data-shown='flow']")
    assert page.locator("#flow-month").input_value() == "2026-11"  # this month at the site's clock
    chart = page.locator("#flow-chart")
    assert int(chart.get_attribute("data-points") or 0) == sum(1 for k in links if k["value"] > 0)
    assert chart.locator("canvas").count() == 1
    rows = page.locator("#flow-table tbody tr")
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.node)") == [n["id"] for n in nodes]
    names = [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())]
    assert [name.split(" ")[0] if n["code"] else name for name, n in zip(names, nodes, strict=True)] == \
        [n["name"].split(" ")[0] if n["code"] else n["name"] for n in nodes]
    text = page.locator("#view").inner_text()
    for n in nodes:
        for device in n["devices"]:
            assert device not in text.split()  # names, never ids
    if who == "narrowed":
        assert flow["whole"] is False
        assert not any(n["kind"] in ("incomer", "loss") for n in nodes)
        assert "不显示进线与损耗" in page.locator(".flow-note").first.inner_text()
    else:
        assert [n["kind"] for n in nodes][:2] == ["incomer", "loss"]
    if lang == "en":
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in page.locator("#view h2, #view .toolbar, thead")
                       .all_inner_texts()[0])
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"flow-{size}-{lang}-{who}.png"), full_page=True)
    assert not [e for e in errors if "favicon" not in e]
    page.context.close()
