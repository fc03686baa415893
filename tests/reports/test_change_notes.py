"""Ingest workers on two hosts (two data directories) writing to one real InfluxDB: with [store] change_notes, a
late reading stored by the worker on the other host is rolled up on the API's host too; without them it is not
(the notes of that worker stay in its own data directory)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from campus.contract import Kind
from campus.model import load_campus
from ingest.config import IngestSettings, StoreSettings
from ingest.decode import Inbound
from ingest.pipeline import Pipeline
from reports.buckets import Interval
from reports.consumption import GroupBy
from reports.usage import Usage
from tests.support.harness import TZ
from tests.support.paths import SAMPLE
from tests.support.servers import Influx

pytestmark = pytest.mark.integration


def _reading(device: str, when: datetime, kwh: float) -> Inbound:
    body = {"ts": int(when.timestamp()), "values": {"energy_kwh": kwh}}
    return Inbound(f"campus/yucai/{device}/reading", json.dumps(body).encode(), int(when.timestamp() * 1000))


@pytest.mark.parametrize("notes", [True, False])
def test_a_late_reading_stored_on_another_host_is_rolled_up(tmp_path: Path, influx: Influx, notes: bool) -> None:
    store = StoreSettings(backend="influxdb", url=influx.url, database=f"notes{int(notes)}", change_notes=notes)
    here = Pipeline.open(tmp_path / "api-host", store, IngestSettings(), "campus")
    there = Pipeline.open(tmp_path / "other-host", store, IngestSettings(), "campus")
    for p in (here, there):
        p.registry.seed(load_campus(SAMPLE))
    day = (datetime.now(TZ) - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    here.commit([_reading("of-elec", day + timedelta(hours=h), 100.0 + 10 * h) for h in (1, 3, 5)])
    usage = Usage(tmp_path / "api-host", here.store, lambda: here.registry.campuses, here.presence)
    site = usage.site("yucai")

    def used() -> float:
        got = site.query(Kind.ELECTRICITY, day, day + timedelta(days=1), Interval.DAY, GroupBy.DEVICE,
                         devices=["of-elec"])
        return got.groups[0].totals[0]

    assert used() == pytest.approx(40.0 * 20)  # of-elec's multiplier is 20: (150 − 110) × 20
    there.commit([_reading("of-elec", day + timedelta(hours=h), 100.0 + 10 * h) for h in (0,)])  # late, at 00:00
    assert used() == pytest.approx(50.0 * 20 if notes else 40.0 * 20)
    usage.close()
    for p in (here, there):
        p.close()
