"""Names are text, never markup: a campus whose every name a person can set (sites, zones, buildings, gateways,
devices, terms) and a roster whose every person's name carry an ``<img onerror>``, and an API whose error messages
carry one, must not inject an element into any view of the console, at a desk's and at a phone's size."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route

from alerts.config import AlertSettings
from alerts.service import AlertService
from api.app import create_app
from campus.clock import FrozenClock
from simulators.model import Simulation, load_campus_doc
from tests.support.console import open_page
from tests.support.district import at_site
from tests.support.drive import inbound, roster_text
from tests.support.harness import TZ, token_headers
from tests.support.paths import SAMPLE
from tests.support.servers import serving
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
HOSTILE = "<img src=x onerror=window.__xss=1>"
VIEWS = ["overview", "alerts", "building/canteen-1", "device/c1-elec", "device/ta-fountain",
         f"reports/{datetime.now(TZ):%Y-%m}", "rounds", "reading", "sweep", "hazards", "watertests",
         "drills", "device/" + HOSTILE.replace(" ", "%20")]

SHOWN = {"overview", "alerts", "building/canteen-1", "device/c1-elec", "device/ta-fountain"}


def hostile(text: str) -> str:
    """Every ``name: X`` of a campus or roster file (flow style) as ``name: "X<img …>"``."""
    return re.sub(r'name: ([^,}\n"]+)', lambda m: f'name: "{m.group(1).strip()}{HOSTILE}"', text)


@dataclass
class Server:
    base: str
    admin: str
    electrician: str


@pytest.fixture(scope="module")
def server(app_stack: Callable[..., Stack], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    campus = tmp_path_factory.mktemp("markup") / "campus.d"
    campus.mkdir()
    yucai = hostile(SAMPLE.read_text(encoding="utf-8"))
    (campus / "yucai.yaml").write_text(yucai, encoding="utf-8")
    mingde = yucai.replace('site: {id: yucai, name: "育才中学', 'site: {id: mingde, name: "明德中学', 1)
    (campus / "mingde.yaml").write_text(mingde, encoding="utf-8")
    now = datetime.now(TZ)
    sim = Simulation(load_campus_doc(SAMPLE), start=now - timedelta(days=2), end=now, seed=3,
                     faults=["water_leak", "ph_excursion:ta-fountain"])
    pubs = list(sim.publications())
    batch = sorted(inbound(pubs) + inbound(at_site(pubs, "mingde")), key=lambda m: m.received_ms)
    stack = app_stack(campus, batch, name="markup", evaluate=False)
    roster = Path(stack.data) / "hostile-roster.yaml"  # people's names as the roster's author typed them
    roster.write_text(hostile(roster_text(1, 2)), encoding="utf-8")
    alerts = AlertService(data_dir=stack.data, mqtt=stack.settings.mqtt, connect_mqtt=False, clock=FrozenClock(0),
                          settings=AlertSettings(roster_file=roster, mqtt_publish=False))
    try:
        alerts.evaluate(batch)
        admin = token_headers(stack.data, "admin", "chen")["Authorization"].split()[1]
        electrician = token_headers(stack.data, "electrician", "wang")["Authorization"].split()[1]
        # the engine with the hostile roster (the stack's own has the plain one)
        with serving(create_app(stack.settings, service=stack.ingest, alerts=alerts)) as base:
            yield Server(base, admin, electrician)
    finally:
        alerts.stop()


@pytest.fixture(params=["desk", "phone"])
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    pg, errors = open_page(browser, str(request.param))
    pg.add_init_script("window.__xss = undefined")
    yield pg
    pg.context.close()
    # an error the API was made to answer (it quotes the hostile text) is expected; any other is not
    assert not [e for e in errors if HOSTILE not in e and "Failed to load resource" not in e], errors


def injected(page: Page) -> list[str]:
    return page.evaluate("""() => [
        ...(window.__xss !== undefined ? ["window.__xss was set"] : []),
        ...[...document.querySelectorAll("img")].filter((i) => i.getAttribute("src") === "x")
          .map((i) => "<img src=x> in " + (i.parentElement?.outerHTML.slice(0, 160) || "?")),
        ...[...document.querySelectorAll("[onerror]")].map((e) => "onerror on " + e.tagName)]""")


def show(page: Page, base: str, view: str) -> None:
    page.evaluate("delete document.body.dataset.ready")
    if page.evaluate("location.hash") == f"#{view}":
        page.evaluate("window.dispatchEvent(new HashChangeEvent('hashchange'))")
    else:
        page.goto(f"{base}/#{view}")
    page.wait_for_function("document.body.dataset.ready !== undefined || document.querySelector('#view p.error')")


@pytest.mark.parametrize("role", ["admin", "electrician"])
def test_no_name_injects_an_element_on_any_view(server: Server, page: Page, role: str) -> None:
    page.goto(f"{server.base}/#token={getattr(server, role)}")
    page.wait_for_selector("body[data-shown=overview]")
    for view in VIEWS:
        show(page, server.base, view)
        if view in SHOWN:
            assert HOSTILE in page.inner_text("#view"), view  # the names are shown, as text
        assert not injected(page), (view, injected(page))
    if role == "admin":  # two sites: the picker lists both names as text
        options = page.locator("#site option").all_inner_texts()
        assert options == [f"明德中学{HOSTILE}", f"育才中学{HOSTILE}"], options
    else:  # the electrician's own name, from the roster
        assert HOSTILE in page.inner_text("#who")
    assert not injected(page)


def test_an_error_message_from_the_api_is_shown_as_text(server: Server, page: Page) -> None:
    page.goto(f"{server.base}/#token={server.admin}")
    page.wait_for_selector("body[data-shown=overview]")

    def refuse(route: Route) -> None:
        route.fulfill(status=404, content_type="application/json",
                      json={"detail": f"no building '{HOSTILE}'"})

    page.route("**/api/v1/water-quality*", refuse)
    page.evaluate("location.hash = '#building'")
    page.wait_for_selector("body[data-shown=building]")
    page.evaluate("location.hash = '#overview'")  # the overview reads the water board: the API refuses
    error = page.wait_for_selector("#view p.error")
    assert HOSTILE in error.inner_text()
    assert not injected(page), injected(page)
