"""What the console tests share: where screenshots go and a page at a desk's or a phone's size that collects
the page's errors (Chromium itself is the ``browser`` fixture, tests/api/conftest.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, Page

from tests.support.paths import ROOT

SHOTS = Path(os.environ.get("METERWATCH_SCREENSHOTS") or ROOT / "build" / "screenshots")
SIZES = {"desk": (1400, 1000), "phone": (375, 812)}


@dataclass(frozen=True)
class Served:
    """A console served on a loopback port (``base``), and one admin's token for it."""

    base: str
    token: str


def open_page(browser: Browser, size: str, timezone: str = "Asia/Shanghai") -> tuple[Page, list[str]]:
    """``timezone``: the browser's (the sample site's by default; the console must show the site's either way)."""
    w, h = SIZES[size]
    context = browser.new_context(viewport={"width": w, "height": h}, accept_downloads=True, locale="zh-CN",
                                  timezone_id=timezone, has_touch=size == "phone")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.set_default_timeout(30_000)
    return page, errors
