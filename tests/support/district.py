"""Two sites from the sample campus: 育才中学 (yucai) as it is and 明德中学 (mingde), a copy with the same
building and device ids, so every device id is in both sites (ids need only be unique within a site)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from simulators.model import Publication
from tests.support.paths import SAMPLE

SITES = ("mingde", "yucai")


def mingde_text() -> str:
    text = SAMPLE.read_text(encoding="utf-8")
    return text.replace("site: {id: yucai, name: 育才中学", "site: {id: mingde, name: 明德中学", 1)


def district_dir(tmp: Path) -> Path:
    """A campus directory: one file per site."""
    d = tmp / "campus.d"
    d.mkdir(parents=True, exist_ok=True)
    (d / "yucai.yaml").write_text(SAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    (d / "mingde.yaml").write_text(mingde_text(), encoding="utf-8")
    return d


def at_site(pubs: list[Publication], site: str) -> list[Publication]:
    """The same publications, published by ``site``'s gateways (its topics)."""
    return [dataclasses.replace(p, topic=p.topic.replace("/yucai/", f"/{site}/", 1)) for p in pubs]
