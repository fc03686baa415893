"""What the upload tests share: a small campus with itemised sub-meters whose 15-minute readings rise by fixed
steps (so every period's numbers are known by hand), the real ingest service over SQLite, the API over it, and the
data-centre emulator (``simulators/datacentre.py``: a fake, because no real provincial centre can run here).

Readings, every 15 minutes from 2026-03-02 00:00 to 2026-03-03 00:00 (Asia/Shanghai), each meter rising by:

| meter | building | item | per 15 min |
|---|---|---|---:|
| t1-elec (main) | teach-1 (code 330106D001) | 01000 | 10 kWh |
| t1-ac (sub of t1-elec) | teach-1 | 01B00 空调 | 3 kWh |
| t1-light (sub of t1-elec) | teach-1 | 01A10 照明与插座 | 2 kWh |
| t1-water | teach-1 | 02000 | 0.5 m³ |
| c1-elec (main) | canteen-1 (330106 + D002 from [upload]) | 01D20 (a canteen's default) | 6 kWh |
| c1-gas | canteen-1 | 03A00 天然气 | 1.5 m³ |
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from api.app import build_service, create_app
from app.settings import load_settings
from campus.clock import FrozenClock
from campus.model import load_campus
from ingest.decode import Inbound
from ingest.service import IngestService
from reports.usage import Usage
from simulators.datacentre import DataCentre
from tests.support.harness import token_headers
from upload.config import SiteUpload, UploadSettings
from upload.service import Uploader

TZ = ZoneInfo("Asia/Shanghai")
KEY = "0123456789abcdef"  # 16 characters: the MD5 key and the AES-128 key
CAMPUS = """
site: {id: yucai, name: 育才中学, timezone: Asia/Shanghai}
buildings:
  - {id: teach-1, name: 教学楼, department: teaching, floor_area_m2: 5000, occupants: 800, code: 330106D001}
  - {id: canteen-1, name: 第一食堂, department: canteen, floor_area_m2: 1200, occupants: 30}
devices:
  - {id: t1-elec, name: 教学楼总表, kind: electricity, building: teach-1, interval_s: 900, rated_capacity: 200}
  - {id: t1-ac, name: 教学楼空调, kind: electricity, building: teach-1, interval_s: 900, rated_capacity: 100,
     parent: t1-elec, item: 01B00}
  - {id: t1-light, name: 教学楼照明, kind: electricity, building: teach-1, interval_s: 900, rated_capacity: 100,
     parent: t1-elec, item: 01A10}
  - {id: t1-water, name: 教学楼水表, kind: water, building: teach-1, interval_s: 900, rated_capacity: 20}
  - {id: c1-elec, name: 食堂电表, kind: electricity, building: canteen-1, interval_s: 900, rated_capacity: 200}
  - {id: c1-gas, name: 食堂燃气, kind: gas, building: canteen-1, interval_s: 900, rated_capacity: 50}
"""
STEPS = {"t1-elec": ("energy_kwh", 10.0), "t1-ac": ("energy_kwh", 3.0), "t1-light": ("energy_kwh", 2.0),
         "t1-water": ("volume_m3", 0.5), "c1-elec": ("energy_kwh", 6.0), "c1-gas": ("volume_m3", 1.5)}


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp() * 1000)


def readings(service: IngestService, start: str = "2026-03-02 00:00", quarters: int = 96) -> None:
    t0 = at(start) / 1000
    for device, (field, step) in STEPS.items():
        items = [{"ts": t0 + 900 * q, "values": {field: 1000 + step * q}} for q in range(quarters + 1)]
        service.pipeline.commit([Inbound(f"campus/yucai/{device}/reading", json.dumps(items).encode(),
                                         at("2026-03-05 00:00"), 1, 1)])


@dataclass
class World:
    tmp: Path
    service: IngestService
    usage: Usage
    clock: FrozenClock

    def settings(self, centre: DataCentre, **over: Any) -> UploadSettings:
        base: dict[str, Any] = {
            "enabled": True, "protocol": centre.protocol, "host": "127.0.0.1", "port": centre.port,
            "url": centre.url if centre.protocol == "json" else None, "key": KEY, "aes": centre.aes,
            "timeout_s": 5, "retry_initial_s": 60, "retry_max_s": 600, "settle_s": 300,
            "sites": {"yucai": SiteUpload(division="330106", buildings={"canteen-1": "D002"})}}
        return UploadSettings(**{**base, **over})

    def uploader(self, centre: DataCentre, **over: Any) -> Uploader:
        return Uploader(self.settings(centre, **over), self.usage, self.tmp, self.clock)

    def api(self) -> TestClient:
        return TestClient(create_app(load_settings(None, data_dir=self.tmp), service=self.service),
                          headers=token_headers(self.tmp))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    campus = tmp_path / "campus.yaml"
    campus.write_text(CAMPUS, encoding="utf-8")
    service = build_service(load_settings(None, data_dir=tmp_path), load_campus(campus), connect_mqtt=False)
    service.start()
    readings(service)
    usage = Usage(tmp_path, service.store, lambda: service.registry.campuses, service.presence)
    try:
        yield World(tmp_path, service, usage, FrozenClock(at("2026-03-02 06:05")))
    finally:
        usage.close()
        service.stop()


@pytest.fixture
def centre() -> Iterator[Callable[..., DataCentre]]:
    """Starts emulators (``centre(protocol="xml", aes="off", key=KEY)``) and stops them after the test."""
    made: list[DataCentre] = []

    def make(**options: Any) -> DataCentre:
        c = DataCentre(**{"key": KEY, **options}).start()
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()
