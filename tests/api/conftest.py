"""What the API tests share: an ingest service over the sample campus (SQLite, no broker), and headless Chromium
(Debian's, through Playwright; nothing downloaded) for the console tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from api.app import build_service
from app.settings import load_settings
from campus.model import load_campus
from ingest.service import IngestService
from tests.support.paths import SAMPLE

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[IngestService]:
    settings = load_settings(None, data_dir=tmp_path)
    svc = build_service(settings, load_campus(SAMPLE), connect_mqtt=False)
    svc.start()
    yield svc
    svc.stop()
