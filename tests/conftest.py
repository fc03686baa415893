from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import Influx, Mosquitto

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "simulators" / "sample_campus.yaml"


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def influx(tmp_path: Path) -> Iterator[Influx]:
    server = Influx(tmp_path / "influxdb")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sample_campus_file() -> Path:
    return SAMPLE
