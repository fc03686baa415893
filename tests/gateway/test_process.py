"""The gateway's configuration and device list: what a config must say (errors say what to fix), which gateway
of the campus file it is, and which buses a changed list reopens."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from campus.errors import ConfigError
from campus.model import parse_campus
from cli.main import main
from gateway.config import load_gateway_settings
from gateway.devicelist import FileDeviceList, changed_buses, pick

CAMPUS = """
site: {id: s1, name: 测试, timezone: Asia/Shanghai}
buildings: [{id: b1, name: 一号楼, department: canteen}]
gateways:
  - id: gw-1
    buses:
      - {name: rs485-1, serial: /dev/ttyUSB0}
      - {name: dtu-2, tcp: "10.1.2.3:8899"}
devices:
  - {id: e1, kind: electricity, building: b1, gateway: gw-1,
     meter: {bus: rs485-1, protocol: dlt645, address: "000000000001"}}
  - {id: w1, kind: water, building: b1, gateway: gw-1,
     meter: {bus: dtu-2, protocol: cjt188, address: "12345678901234"}}
  - {id: e9, kind: electricity, building: b1, gateway: gw-2}
"""


def write(tmp_path: Path, text: str, name: str = "gateway.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_config_names_its_gateway_and_the_broker_identity_defaults_to_it(tmp_path: Path) -> None:
    campus = write(tmp_path, CAMPUS, "campus.yaml")
    config = write(tmp_path, f'data_dir = "{tmp_path}/d"\n[mqtt]\nurl = "mqtts://broker:8883"\n'
                             f'cafile = "/etc/ca.pem"\n[campus]\nfile = "{campus}"\n[gateway]\nid = "gw-1"\n')
    s = load_gateway_settings(config)
    assert (s.gateway.backfill_days, s.gateway.time_sync) == (31, False)
    broker = s.broker()
    assert (broker.username, broker.client_id, broker.tls) == ("gw-1", "gw-1", True)


@pytest.mark.parametrize(("text", "words"), [
    ('[gateway]\nid = "gw-1"\n', "[campus] file"),
    ('[campus]\nfile = "x.yaml"\n', "[gateway] missing: add it"),
    ('[campus]\nfile = "x.yaml"\n[gateway]\nid = "gw-1"\nbackfill_days = 90\n', "[gateway.backfill_days]"),
    ('[gateway]\nid = "gw-1"\nserver = "https://mw"\n', "server and token go together"),
    ('[gateway]\nid = "gw-1"\nserver = "https://mw"\ntoken = "t"\n', "set [gateway] site too"),
    ('[gateway]\nid = "gw-1"\nserver = "ftp://mw"\ntoken = "t"\nsite = "s1"\n', "meterwatch's URL"),
    ('[gateway]\nid = "gw 1"\n[campus]\nfile = "x.yaml"\n', "[gateway.id]"),
    ("[gateway\n", "gateway.toml"),
    ('[mqtt]\nurl = "mqtt://gw-1:S3cret@127.0.0.1:1883"\n[gateway]\nid = "gw-1"\n[campus]\nfile = "x.yaml"\n',
     "put them in [mqtt] username and password"),
])
def test_config_errors_say_what_to_fix(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")) as err:
        load_gateway_settings(write(tmp_path, text))
    assert "S3cret" not in str(err.value)  # a password in a URL is never said back


def test_a_missing_config_file_is_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gateway", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_the_gateway_of_a_campus_file(tmp_path: Path) -> None:
    campus = parse_campus(CAMPUS)
    view = pick([campus], "gw-1")
    assert [d.id for d in view.devices] == ["e1", "w1"]
    assert {n: [d.id for d in ds] for n, (_, ds) in view.buses().items()} == {"rs485-1": ["e1"], "dtu-2": ["w1"]}
    with pytest.raises(ConfigError, match="no gateway 'gw-3'.*gw-1, gw-2"):
        pick([campus], "gw-3")


def test_a_changed_list_reopens_only_the_buses_that_changed(tmp_path: Path) -> None:
    path = write(tmp_path, CAMPUS, "campus.yaml")
    source = FileDeviceList(path, "gw-1", None)
    first = source.fetch()
    assert first is not None
    assert source.fetch() is None  # unchanged: nothing to do
    assert changed_buses(None, first) == {"rs485-1", "dtu-2"}
    moved = CAMPUS.replace('"000000000001"', '"000000000002"')  # a meter replaced on rs485-1
    path.write_text(moved, encoding="utf-8")
    os.utime(path, (1, 1))  # a new modification time, whatever the file system's resolution
    second = source.fetch()
    assert second is not None
    assert changed_buses(first, second) == {"rs485-1"}
    gone = parse_campus(moved.replace('      - {name: dtu-2, tcp: "10.1.2.3:8899"}\n', "").replace(
        "  - {id: w1, kind: water, building: b1, gateway: gw-1,\n"
        '     meter: {bus: dtu-2, protocol: cjt188, address: "12345678901234"}}\n', ""))
    assert changed_buses(second, pick([gone], "gw-1")) == {"dtu-2"}
