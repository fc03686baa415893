"""The registry as the command line opens it: seeded from ``[campus] file`` (or the sample campus) when it holds
no site yet, as ``serve`` seeds it, so the production steps work in the README's order (credentials and the
broker's files before the first ``serve``)."""

from __future__ import annotations

from app.samples import sample_campus
from app.settings import Settings
from campus.model import load_sites
from campus.registry import Registry


def open_registry(settings: Settings) -> Registry:
    """The data directory's registry; an empty one first takes the sites of the campus file."""
    registry = Registry(settings.datadir().shared)
    try:
        if not registry.campuses:
            registry.seed_all(load_sites(settings.campus.file or sample_campus()))
    except BaseException:
        registry.close()
        raise
    return registry
