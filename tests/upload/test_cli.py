"""``meterwatch upload --once`` as an operator runs it: a real process, a TOML config, the key in the environment,
against the data-centre emulator (a fake: no real provincial centre can run here). The wall clock is the
process's own, so the period sent is the one that has just ended (no readings then: zeros, still one packet per
building); what matters here is the command: it sends, exits 0 when nothing waits, and never prints the key."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from simulators.datacentre import DataCentre
from tests.upload.conftest import KEY, World


def test_upload_once_sends_and_never_shows_the_key(world: World, centre: Callable[..., DataCentre]) -> None:
    dc = centre(aes="data")
    config = world.tmp / "meterwatch.toml"
    config.write_text(f'data_dir = "{world.tmp}"\n[campus]\nfile = "{world.tmp / "campus.yaml"}"\n'
                      f'[upload]\nenabled = true\nprotocol = "xml"\nhost = "127.0.0.1"\nport = {dc.port}\n'
                      'aes = "data"\nsettle_s = 0\n[upload.sites.yucai]\ndivision = "330106"\n'
                      'buildings = {canteen-1 = "D002"}\n', encoding="utf-8")
    env = {**os.environ, "METERWATCH_UPLOAD__KEY": KEY}
    done = subprocess.run([sys.executable, "-m", "cli", "upload", "--once", "--config", str(config)],
                          capture_output=True, env=env, timeout=120, check=False)
    out = done.stdout.decode() + done.stderr.decode()
    assert done.returncode == 0, out
    assert "已确认 2 包" in out
    assert KEY not in out
    assert sorted(b for b, _ in dc.stored) == ["330106D001", "330106D002"]


def test_upload_refuses_a_config_without_sites(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    config = world.tmp / "bare.toml"
    config.write_text(f'data_dir = "{world.tmp}"\n[upload]\nkey = "{KEY}"\nport = 9\n', encoding="utf-8")
    assert main(["upload", "--once", "--config", str(config)]) == 2
    assert "[upload] names no site: add [upload.sites.SITE_ID]" in capsys.readouterr().err


def test_the_uploader_serve_starts_runs_until_sigterm(world: World, centre: Callable[..., DataCentre]) -> None:
    """What ``serve`` does with ``[upload] enabled``: ``meterwatch upload`` as a child process, stopped by SIGTERM."""
    from cli.run import start_uploader, stop_child

    dc = centre(protocol="json")
    config = world.tmp / "serve.toml"
    config.write_text(f'data_dir = "{world.tmp}"\n[campus]\nfile = "{world.tmp / "campus.yaml"}"\n'
                      f'[upload]\nenabled = true\nprotocol = "json"\nurl = "{dc.url}"\nkey = "{KEY}"\nsettle_s = 0\n'
                      '[upload.sites.yucai]\ndivision = "330106"\nbuildings = {canteen-1 = "D002"}\n',
                      encoding="utf-8")
    child = start_uploader(config)
    try:
        assert dc.wait_stored(2, 60)
    finally:
        stop_child(child)
    assert child.returncode == 0
