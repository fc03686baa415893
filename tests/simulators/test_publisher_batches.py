"""The demo's backfill: a gateway's backlog sent as arrays, nothing lost, each device in order."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from simulators.model import Publication, Simulation, load_campus_doc
from simulators.publisher import _batched
from tests.support.harness import TZ
from tests.support.paths import SAMPLE


def _readings(pubs: list[Publication]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in pubs:
        doc = json.loads(p.payload) if p.what not in ("malformed", "status", "disconnect") else None
        items = doc if isinstance(doc, list) else [doc] if isinstance(doc, dict) else []
        out.setdefault(p.topic, []).extend(str(i["ts"]) for i in items if isinstance(i, dict) and "ts" in i)
    return out


def test_backfill_batches_keep_every_reading_and_each_devices_order() -> None:
    end = datetime(2026, 3, 12, tzinfo=TZ)
    sim = Simulation(load_campus_doc(SAMPLE), start=end - timedelta(days=2), end=end, seed=3,
                     faults=["duplicates", "out_of_order", "malformed", "device_offline"])
    plain = list(sim.publications())
    cut = int((end - timedelta(hours=6)).timestamp() * 1000)  # the last 6 h are "live"
    batched = list(_batched(iter(plain), 24, cut))
    assert _readings(batched) == _readings(plain)  # every reading, each topic in the same order
    assert sum(len(p.readings) for p in batched) == sum(len(p.readings) for p in plain)
    assert len(batched) < len(plain) / 4
    assert max(len(p.readings) for p in batched) <= 24
    assert all(p.what != "batch" or p.ts_ms < cut for p in batched)  # live publications go one by one
    assert [p for p in batched if p.ts_ms >= cut] == [p for p in plain if p.ts_ms >= cut]
