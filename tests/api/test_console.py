"""The web console in headless Chromium (Debian's `chromium`, driven by Playwright; no browser download).

A real uvicorn server on a free loopback port serves the app over a service holding the last eight
days of the simulated campus and an alert raised by the real alert engine. A person's path: open the
overview, switch to English, open a device chart, acknowledge an alert, download a report.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, sync_playwright

from alerts.clock import FrozenClock
from alerts.config import AlertSettings
from alerts.service import AlertService
from api.app import build_service, create_app
from api.settings import load_settings
from ingest.campus import load_campus
from ingest.service import IngestService
from simulators.model import Simulation, load_campus_doc
from tests.alerts.drive import inbound, local, roster_text, simulation
from tests.conftest import SAMPLE
from tests.harness import TZ, token_headers
from tests.servers import free_port, wait_for

pytestmark = pytest.mark.integration
CHROMIUM = "/usr/bin/chromium"


@dataclass
class Console:
    base: str
    token: str
    alerts: AlertService
    data_dir: Path


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    data = tmp_path_factory.mktemp("console")
    settings = load_settings(None, data_dir=data)
    ingest: IngestService = build_service(settings, load_campus(SAMPLE), connect_mqtt=False)
    ingest.start()
    now = datetime.now(TZ)
    recent = Simulation(load_campus_doc(SAMPLE), start=now - timedelta(days=8), end=now, seed=3, faults=[])
    batch = inbound(recent.publications())
    for i in range(0, len(batch), 2000):
        ingest.pipeline.commit(batch[i:i + 2000])
    roster = data / "roster.yaml"
    roster.write_text(roster_text(1, 2), encoding="utf-8")
    alerts = AlertService(data_dir=data, mqtt=settings.mqtt, connect_mqtt=False, clock=FrozenClock(0),
                          settings=AlertSettings(roster_file=roster, mqtt_publish=False))
    alerts.evaluate(inbound(simulation(local(2026, 3, 10, 9), 4, ["ph_excursion:ta-fountain"]).publications()))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, service=ingest, alerts=alerts), host="127.0.0.1",
                                           port=port, log_config=None, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 20, "uvicorn")
    token = token_headers(data, "admin", "zhang")["Authorization"].split()[1]
    yield Console(f"http://127.0.0.1:{port}", token, alerts, data)
    server.should_exit = True
    thread.join(10)
    alerts.stop()
    ingest.stop()


@pytest.fixture
def page(console: Console) -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(accept_downloads=True, locale="zh-CN", timezone_id="Asia/Shanghai")
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.set_default_timeout(20_000)
        yield pg
        browser.close()
        assert not errors, errors


def test_overview_device_chart_ack_and_report(console: Console, page: Page, tmp_path: Path) -> None:
    page.goto(f"{console.base}/#token={console.token}")
    page.wait_for_selector("body[data-ready=overview]")
    assert page.inner_text("header h1") == "校园能耗与水质监测"
    assert "zhang" in page.inner_text("#who")
    row = page.locator("#overview-table tr[data-building=canteen-1]")
    assert "第一食堂" in row.inner_text()
    cells = row.locator("td").all_inner_texts()
    if datetime.now(TZ).hour >= 1:  # whole hours are compared: just after midnight there is none yet
        assert float(cells[1].replace(",", "")) > 0, cells  # electricity today
    assert float(cells[2].replace(",", "")) > 0, cells  # same hours a week ago
    assert "pH" in page.inner_text("#open-alerts")
    page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)

    page.click("#lang")
    page.wait_for_function("document.querySelector('header h1').textContent === 'Campus energy and water quality'")
    assert page.inner_text("#nav-alerts") == "Alerts"
    page.click("#lang")  # back to Chinese
    page.wait_for_function("document.querySelector('header h1').textContent === '校园能耗与水质监测'")

    page.goto(f"{console.base}/#device/c1-elec")
    page.wait_for_selector("body[data-ready=device]")
    page.wait_for_selector("#device-chart polyline")
    assert page.input_value("#field-select") == "energy_kwh"
    assert len(page.get_attribute("#device-chart polyline", "points").split()) > 50  # type: ignore[union-attr]

    page.goto(f"{console.base}/#alerts")
    page.wait_for_selector("body[data-ready=alerts]")
    page.wait_for_selector("#alert-table button.ack")
    alert_id = page.get_attribute("#alert-table button.ack", "data-id")
    page.once("dialog", lambda d: d.accept("已到现场"))
    page.click(f"#alert-table button.ack[data-id='{alert_id}']")
    page.wait_for_function(f"document.querySelector(\"tr[data-alert='{alert_id}'] .status\").textContent === '已确认'")
    acked = console.alerts.desk.store.get(int(alert_id))  # type: ignore[arg-type]
    assert (acked.status, acked.ack_by, acked.ack_comment) == ("acknowledged", "zhang", "已到现场")

    page.goto(f"{console.base}/#reports")
    page.wait_for_selector("body[data-ready=reports]")
    page.fill("#month", datetime.now(TZ).strftime("%Y-%m"))
    with page.expect_download() as info:
        page.click("#downloads button[data-format=pdf]")
    target = tmp_path / "report.pdf"
    info.value.save_as(target)
    assert target.read_bytes().startswith(b"%PDF")
    with page.expect_download() as info:
        page.click("#downloads button[data-format=xlsx]")
    info.value.save_as(tmp_path / "report.xlsx")
    assert (tmp_path / "report.xlsx").read_bytes().startswith(b"PK")


def test_a_bad_token_shows_the_login(console: Console, page: Page) -> None:
    page.goto(f"{console.base}/#token=mw_not-a-token")
    page.wait_for_selector("#login:not([hidden])")
    assert "令牌无效" in page.inner_text("#login-error")
    page.fill("#token", console.token)
    page.click("#login-form button")
    page.wait_for_selector("body[data-ready=overview]")
