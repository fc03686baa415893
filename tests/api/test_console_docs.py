"""/docs works on a campus network with no way out: Swagger UI is served from the vendored copy
(api/static/vendor/swagger-ui), never from a CDN, and draws the API in Chromium with every other host blocked."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Route

from tests.support.console import open_page
from tests.support.servers import serving
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def base(app_stack: Callable[..., Stack]) -> Iterator[str]:
    with serving(app_stack(name="docs", evaluate=False).app()) as url:
        yield url


def test_docs_references_no_other_host_and_its_assets_answer(base: str) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        refs = re.findall(r"""(?:src|href)=["']([^"']+)["']|(?:url)\s*:\s*["']([^"']+)["']""", page.text)
        urls = [a or b for a, b in refs]
        assert urls, page.text
        assert not [u for u in urls if urlsplit(u).netloc or u.startswith("//")], urls
        assert "cdn" not in page.text.lower()
        for url in urls:
            assert client.get(url).status_code == 200, url
        assert client.get("/redoc").status_code == 404  # it would load from a CDN too


def test_docs_draws_the_api_with_every_other_host_blocked(base: str, browser: Browser) -> None:
    page, errors = open_page(browser, "desk")
    elsewhere: list[str] = []

    def offline(route: Route) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", offline)
    try:
        page.goto(f"{base}/docs")
        page.wait_for_selector(".swagger-ui .info .title:has-text('meterwatch')", timeout=20_000)
        page.wait_for_selector(".opblock-tag:has-text('consumption')", timeout=20_000)
        assert not elsewhere, elsewhere
    finally:
        page.context.close()
    assert not errors, errors
