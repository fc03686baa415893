"""Files on disk: the data directory is private and every database and key file is created 0600 from the start,
whatever the umask; the systemd unit sandboxes the service."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.config import AlertSettings
from alerts.desk import AlertDesk
from api.app import build_service
from api.tokens import TokenStore
from app.settings import load_settings
from campus.db import DataDir
from campus.model import load_campus
from tests.support.paths import ROOT, SAMPLE


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0o022)  # what a careless shell has
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
def test_data_directory_and_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = load_settings(None, data_dir=data)
    service = build_service(settings, load_campus(SAMPLE), connect_mqtt=False)
    desk = AlertDesk(data_dir=data, settings=AlertSettings())
    tokens = TokenStore(DataDir(data).state)
    tokens.create("x", "viewer")
    try:
        assert _mode(data) == 0o700
        files = [p for p in data.iterdir() if p.is_file()]
        assert {p.name for p in files} >= {"meterwatch.db", "readings.db", "spool.db", "alerts.db", "alerts.key",
                                           "meterwatch.db-wal"}
        for p in files:
            assert _mode(p) == 0o600, f"{p.name} is {oct(_mode(p))}"
    finally:
        tokens.close()
        desk.close()
        service.stop()


@pytest.mark.usefixtures("open_umask")
def test_an_existing_open_data_directory_is_tightened_to_at_most_0750(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o777)
    data.chmod(0o777)
    service = build_service(load_settings(None, data_dir=data), load_campus(SAMPLE), connect_mqtt=False)
    service.stop()
    assert _mode(data) == 0o750


def test_the_systemd_unit_sandboxes_the_service() -> None:
    unit = (ROOT / "deploy" / "systemd" / "meterwatch.service").read_text(encoding="utf-8")
    lines = {line.split("=", 1)[0]: line.split("=", 1)[1] for line in unit.splitlines() if "=" in line}
    assert lines["UMask"] == "0077"
    assert lines["NoNewPrivileges"] == "true"
    assert lines["ProtectSystem"] == "strict"
    assert lines["ReadWritePaths"].split()[0] == "/var/lib/meterwatch"
    assert lines["PrivateTmp"] == "true"


def test_the_example_config_is_valid() -> None:
    settings = load_settings(ROOT / "deploy" / "meterwatch.toml")
    assert settings.mqtt.username == "meterwatch-ingest"
    assert settings.alerts.username == "meterwatch-alerts"
    assert settings.broker.tls_port == 8883
    assert settings.broker.manage
