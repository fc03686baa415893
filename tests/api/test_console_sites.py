"""The console over two sites (育才 yucai, 明德 mingde: the same device ids) in headless Chromium: a site picker
for a token that sees both, every call naming the chosen site, none for a token scoped to one, and an alert
link from the other site opening that site."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from api.access import Scope
from api.tokens import TokenStore
from campus.db import DataDir
from simulators.model import Simulation, load_campus_doc
from tests.support.console import SHOTS, open_page
from tests.support.district import at_site, district_dir
from tests.support.drive import inbound
from tests.support.harness import TZ
from tests.support.paths import SAMPLE
from tests.support.servers import serving
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


@dataclass
class Server:
    base: str
    admin: str
    mingde: str
    yucai_alert: int


@pytest.fixture(scope="module")
def server(app_stack: Callable[..., Stack], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    now = datetime.now(TZ)
    sim = Simulation(load_campus_doc(SAMPLE), start=now - timedelta(hours=6), end=now, seed=3,
                     faults=["ph_excursion:ta-fountain"])
    pubs = list(sim.publications())
    batch = sorted(inbound(pubs) + inbound(at_site(pubs, "mingde")), key=lambda m: m.received_ms)
    stack = app_stack(district_dir(tmp_path_factory.mktemp("sites")), batch, name="sites")
    yucai_alert = next(a.id for a in stack.alerts.store.query() if a.site == "yucai" and a.subject == "ta-fountain")
    tokens = TokenStore(DataDir(stack.data).state)
    admin, mingde = tokens.create("office", "admin"), tokens.create("mingde-office", "viewer", Scope.of(["mingde"]))
    tokens.close()
    with serving(stack.app()) as base:
        yield Server(base, admin, mingde, yucai_alert)


def test_the_site_picker_names_the_site_in_every_call(server: Server, browser: Browser) -> None:
    page, errors = open_page(browser, "desk")
    calls: list[str] = []
    page.on("request", lambda r: calls.append(r.url) if "/api/v1/" in r.url else None)
    page.goto(f"{server.base}/#token={server.admin}")
    page.wait_for_selector("body[data-shown='overview']")
    picker = page.locator("#site")
    assert picker.is_visible()
    assert picker.locator("option").all_inner_texts() == ["明德中学", "育才中学"]
    assert picker.input_value() == "mingde"
    about_a_site = [u for u in calls if "/sites" not in u and "/me" not in u]
    assert about_a_site
    assert all("site=mingde" in u for u in about_a_site), about_a_site
    calls.clear()
    picker.select_option("yucai")  # its change handler starts drawing again at once, taking data-shown away
    page.wait_for_selector("body[data-shown='overview']")
    assert calls
    assert all("site=yucai" in u for u in calls), calls
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "sites-overview-desk.png"))
    page.goto(f"{server.base}/#device/ta-fountain")  # the same id in both sites: the chosen site's
    page.wait_for_selector("body[data-shown='device/ta-fountain']")
    assert not [e for e in errors if "favicon" not in e]
    page.context.close()


def test_an_alert_link_from_the_other_site_opens_that_site(server: Server, browser: Browser) -> None:
    page, errors = open_page(browser, "phone")
    page.goto(f"{server.base}/#token={server.admin}")
    page.wait_for_selector("body[data-shown='overview']")
    page.locator("#site").select_option("mingde")
    page.wait_for_selector("body[data-shown='overview']")
    page.goto(f"{server.base}/#alerts/{server.yucai_alert}")
    page.wait_for_selector(f"body[data-shown='alerts/{server.yucai_alert}']")
    assert page.locator("#site").input_value() == "yucai"
    assert page.locator(f"[data-alert='{server.yucai_alert}']").count() == 1
    assert not [e for e in errors if "favicon" not in e]
    page.context.close()


def test_a_token_of_one_site_sees_no_picker(server: Server, browser: Browser, tmp_path: Path) -> None:
    page, errors = open_page(browser, "phone")
    refused: list[int] = []
    page.on("response", lambda r: refused.append(r.status) if "/api/v1/" in r.url and r.status >= 400 else None)
    page.goto(f"{server.base}/#token={server.mingde}")
    page.wait_for_selector("body[data-shown='overview']")
    assert page.locator("#site").is_hidden()
    page.goto(f"{server.base}/#alerts")
    page.wait_for_selector("body[data-shown='alerts']")
    assert refused == []
    assert not [e for e in errors if "favicon" not in e]
    page.context.close()
