"""``meterwatch meters simulate`` as a person runs it: the help, a campus file, where each bus is, a meter
read over the printed port, Ctrl-C; and the words for a wrong fault."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from cli.main import main
from gateway.protocols import cjt188
from tests.support.servers import free_port


def test_help_explains(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["meters", "simulate", "--help"])
    out = capsys.readouterr().out
    for words in ("--campus", "--gateway", "--broker", "--fault", "no_answer", "bus_down", "Ctrl-C", "pty"):
        assert words in out


def campus_file(tmp: Path, port: int) -> Path:
    doc = {
        "site": {"id": "s1", "name": "测试"},
        "buildings": [{"id": "canteen-1", "name": "一食堂", "department": "canteen", "floor_area_m2": 2000}],
        "gateways": [{"id": "gw-1", "buses": [
            {"name": "rs485-1", "serial": "/dev/ttyUSB7", "baud": 2400, "parity": "E"},
            {"name": "dtu-2", "tcp": f"127.0.0.1:{port}"},
        ]}],
        "devices": [
            {"id": "c1-elec", "kind": "electricity", "building": "canteen-1", "gateway": "gw-1",
             "meter": {"bus": "rs485-1", "protocol": "dlt645", "address": "000012345678"}},
            {"id": "c1-water", "kind": "water", "building": "canteen-1", "gateway": "gw-1",
             "meter": {"bus": "dtu-2", "protocol": "cjt188", "address": "12345678901234"}},
        ],
    }
    path = tmp / "campus.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def _text_until(proc: subprocess.Popen[bytes], end: str, timeout: float = 20) -> str:
    """What the process printed, up to the line that holds ``end`` (or the timeout)."""
    assert proc.stdout is not None
    out = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline and end.encode() not in out:
            if sel.select(max(deadline - time.monotonic(), 0.01)):
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                out += chunk
    return out.decode()


def test_simulate_until_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    path = campus_file(tmp_path, port)
    proc = subprocess.Popen([sys.executable, "-m", "cli", "meters", "simulate", "--campus", str(path),
                             "--gateway", "gw-1", "--serial-dir", str(tmp_path / "dev"),
                             "--fault", "replaced:c1-elec"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        text = _text_until(proc, "Ctrl-C")
        assert f"{tmp_path / 'dev' / 'ttyUSB7'} -> /dev/pts/" in text
        assert f"serial server on 127.0.0.1:{port}" in text
        assert "c1-elec dlt645 000012345679" in text  # replaced: the next address
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(cjt188.read_request(0x10, "12345678901234"))
            deframer = cjt188.Deframer()
            got: list[object] = []
            deadline = time.monotonic() + 5
            while not got and time.monotonic() < deadline:
                got = deframer.feed(conn.recv(64))
            assert isinstance(got[0], cjt188.Frame)
            assert cjt188.decode_answer(got[0]).volume_m3 > 0
        assert (tmp_path / "dev" / "ttyUSB7").is_symlink()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err.decode()
        assert "停止 / stopping" in out.decode()
        assert not (tmp_path / "dev" / "ttyUSB7").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=5)


def test_a_wrong_fault_says_what_to_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = campus_file(tmp_path, free_port())
    assert main(["meters", "simulate", "--campus", str(path), "--gateway", "gw-1", "--fault", "smoke:c1-elec"]) == 2
    assert "NAME:DEVICE" in capsys.readouterr().err
    assert main(["meters", "simulate", "--campus", str(path), "--gateway", "gw-1", "--fault", "slow:nobody"]) == 2
    assert "no simulated meter 'nobody'" in capsys.readouterr().err
    assert main(["meters", "simulate", "--campus", str(path), "--gateway", "gw-9"]) == 2
    assert "no gateway 'gw-9'" in capsys.readouterr().err
