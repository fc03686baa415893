"""Many sites in one registry: the campus file forms, device ids unique only within a site, ingest keeping
two sites' same-named devices apart, and data directories from before sites carried over."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from campus.contract import Kind
from campus.db import DataDir
from campus.errors import AlreadyExists, ConfigError, NotFound
from campus.model import load_campus, load_sites
from campus.registry import Registry
from ingest.config import IngestSettings, StoreSettings
from ingest.decode import Inbound
from ingest.pipeline import Pipeline
from ingest.status import PresenceStore
from ingest.stores.sqlite import SqliteStore
from tests.support.district import district_dir, mingde_text
from tests.support.paths import SAMPLE


def test_one_site_a_sites_file_and_a_directory(tmp_path: Path) -> None:
    d = district_dir(tmp_path)
    assert [c.site.id for c in load_sites(d)] == ["mingde", "yucai"]
    assert [c.site.id for c in load_sites(SAMPLE)] == ["yucai"]
    both = tmp_path / "both.yaml"
    body = "\n".join("  - " + "\n    ".join(t.splitlines()) for t in (SAMPLE.read_text(encoding="utf-8"),
                                                                      mingde_text()))
    both.write_text("sites:\n" + body + "\n", encoding="utf-8")
    assert [c.site.id for c in load_sites(both)] == ["yucai", "mingde"]
    with pytest.raises(ConfigError, match="holds 2 sites"):
        load_campus(both)
    (d / "copy.yaml").write_text(SAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ConfigError, match="site id 'yucai' is used twice"):
        load_sites(d)
    empty = tmp_path / "empty.d"
    empty.mkdir()
    with pytest.raises(ConfigError, match="no \\*.yaml"):
        load_sites(empty)


def test_device_ids_are_unique_within_a_site_only(tmp_path: Path) -> None:
    registry = Registry(DataDir(tmp_path).state)
    registry.seed_all(load_sites(district_dir(tmp_path)))
    assert list(registry.campuses) == ["mingde", "yucai"]
    a, b = registry.tags("yucai", "c1-elec"), registry.tags("mingde", "c1-elec")
    assert a is not None
    assert b is not None
    assert (a.site, b.site) == ("yucai", "mingde")
    with pytest.raises(AlreadyExists, match="used in sites mingde, yucai"):
        registry.device("c1-elec")
    assert registry.device("c1-elec", "mingde").id == "c1-elec"
    with pytest.raises(NotFound):
        registry.device("c1-elec", "nowhere")
    with pytest.raises(ConfigError, match="2 sites"):
        registry.campus  # noqa: B018 - one-site callers must name a site
    registry.update_device("c1-elec", {"name": "明德一食堂"}, "mingde")
    assert registry.device("c1-elec", "yucai").name != "明德一食堂"
    registry.close()


def test_ingest_keeps_two_sites_same_device_apart(tmp_path: Path) -> None:
    pipeline = Pipeline.open(tmp_path, StoreSettings(), IngestSettings(), "campus")
    pipeline.registry.seed_all(load_sites(district_dir(tmp_path)))
    msgs = [Inbound(f"campus/{site}/c1-water/reading", json.dumps({"ts": 1_790_000_000, "values": {
        "volume_m3": value}}).encode(), 1_790_000_000_000) for site, value in (("yucai", 10.0), ("mingde", 20.0))]
    msgs.append(Inbound("campus/nowhere/c1-water/reading", msgs[0].payload, 1_790_000_000_000))
    pipeline.commit(msgs)
    store = pipeline.store
    assert store.count() == 2
    assert store.count(site="mingde") == 1
    for site, value in (("yucai", 10.0), ("mingde", 20.0)):
        got = store.readings(site, "c1-water", Kind.WATER, 0, 2**62)
        assert [s.values["volume_m3"] for s in got] == [value]
    assert set(pipeline.presence.all()) == {("yucai", "c1-water"), ("mingde", "c1-water")}
    letters = pipeline.dead_letters.list()
    assert len(letters) == 1
    assert "belongs to site mingde, yucai, not 'nowhere'" in letters[0].reason
    pipeline.close()


def test_a_data_directory_from_before_sites_is_carried_over(tmp_path: Path) -> None:
    """Registry, presence and the embedded store keyed by device alone become keyed by site and device."""
    db, readings = DataDir(tmp_path).state, DataDir(tmp_path).readings
    campus = load_campus(SAMPLE)
    with sqlite3.connect(db) as old:
        old.execute("CREATE TABLE campus (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, "
                    "doc TEXT NOT NULL)")
        old.execute("INSERT INTO campus VALUES (1, 7, ?)", (campus.model_dump_json(),))
        old.execute("CREATE TABLE presence (device TEXT PRIMARY KEY, online INTEGER, status_ms INTEGER, "
                    "last_seen_ms INTEGER, changed_from_ms INTEGER)")
        old.execute("INSERT INTO presence VALUES ('c1-elec', 1, 5, 6, 7)")
    with sqlite3.connect(readings) as old:
        old.execute("CREATE TABLE readings (device TEXT NOT NULL, ts INTEGER NOT NULL, kind TEXT NOT NULL, site TEXT, "
                    "building TEXT, department TEXT, zone TEXT, seq INTEGER, energy_kwh REAL, power_kw REAL, "
                    "PRIMARY KEY (device, ts)) WITHOUT ROWID")
        old.execute("INSERT INTO readings (device, ts, kind, site, building, department, zone, energy_kwh) "
                    "VALUES ('c1-elec', 1000, 'electricity', 'yucai', 'canteen-1', 'canteen', 'zone-north', 12.5)")
    registry = Registry(db)
    assert list(registry.campuses) == ["yucai"]
    presence = PresenceStore(db)
    assert presence.of_site("yucai")["c1-elec"].last_seen_ms == 6
    assert presence.changes("yucai") == {"c1-elec": 7}
    store = SqliteStore(readings)
    got = store.readings("yucai", "c1-elec", Kind.ELECTRICITY, 0, 2**62)
    assert [(s.ts, s.values.get("energy_kwh")) for s in got] == [(1000, 12.5)]
    for part in (store, presence, registry):
        part.close()


def test_a_gateways_own_status_speaks_for_each_of_its_devices(tmp_path: Path) -> None:
    """The field gateway's Last Will is on its own topic, {prefix}/{site}/{gateway}/status: each device it reads
    is then offline (and online again when it says so); a status for an id that is neither is a dead letter."""
    pipeline = Pipeline.open(tmp_path, StoreSettings(), IngestSettings(), "campus")
    try:
        pipeline.registry.seed_all(load_sites(SAMPLE))
        served = sorted(d.id for d in pipeline.registry.site("yucai").devices if d.gateway == "gw-canteen-1")
        assert served
        pipeline.commit([Inbound("campus/yucai/gw-canteen-1/status", b"offline", 1_790_000_000_000),
                         Inbound("campus/yucai/gw-nowhere/status", b"offline", 1_790_000_000_000)])
        presence = pipeline.presence.of_site("yucai")
        assert {d: presence[d].online for d in served} == dict.fromkeys(served, False)
        assert "gw-canteen-1" not in presence
        assert [letter.topic for letter in pipeline.dead_letters.list()] == ["campus/yucai/gw-nowhere/status"]
        pipeline.commit([Inbound("campus/yucai/gw-canteen-1/status", b"online", 1_790_000_001_000)])
        presence = pipeline.presence.of_site("yucai")
        assert {d: presence[d].online for d in served} == dict.fromkeys(served, True)
    finally:
        pipeline.close()
