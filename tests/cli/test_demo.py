"""`meterwatch demo` as a newcomer runs it: one command, then read readings back over HTTP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.support.paths import ROOT
from tests.support.servers import free_port, stop_process, wait_for

pytestmark = pytest.mark.integration


def test_demo_streams_a_campus_into_the_embedded_store(tmp_path: Path) -> None:
    port, mqtt_port = free_port(), free_port()
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cli", "demo", "--port", str(port),
                                 "--mqtt-port", str(mqtt_port), "--data-dir", str(tmp_path / "data")],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_for(lambda: httpx.get(f"{base}/health", timeout=2).json()["stored"] > 3000, 90, "demo backfill")
        token = re.search(r"admin token \S+\s+(mw_\S+)", log.read_text(encoding="utf-8"))
        assert token, log.read_text(encoding="utf-8")
        assert httpx.get(f"{base}/devices", timeout=5).status_code == 401
        with httpx.Client(headers={"Authorization": f"Bearer {token.group(1)}"}, timeout=10) as api:
            assert f"/#token={token.group(1)}" in log.read_text(encoding="utf-8")
            devices = api.get(f"{base}/devices").json()
            assert len(devices) > 30
            # caught up: every device has reported within its interval of now (the backfill is over); a virtual
            # meter reports nothing (it is computed from the others)
            def caught_up() -> bool:
                now = datetime.now(UTC)
                return all(d["last_seen"] and datetime.fromisoformat(d["last_seen"]) > now - timedelta(
                    seconds=2 * d["interval_s"] + 60) for d in api.get(f"{base}/devices").json() if not d["virtual"])

            wait_for(caught_up, 120, "the backfill caught up with now")
            text = log.read_text(encoding="utf-8")
            assert "回填 backfilling" in text
            assert "100%" in text  # the progress bar ran to the end
            assert not re.search(r'^\{"time"', text, re.M)  # log lines go to the file, not the terminal
            assert (tmp_path / "data" / "meterwatch.log").stat().st_size > 0
            # last month is complete: the report's coverage, and a plausible line loss at the incomer
            today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
            last_month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
            report = api.get(f"{base}/reports/energy", params={"month": last_month, "format": "json"}, timeout=120)
            assert report.status_code == 200, report.text
            body = report.json()
            assert min(m["coverage"] for m in body["completeness"]) >= 0.9
            assert 2 <= body["incomer"]["loss_pct"] <= 6, body["incomer"]
            readings = api.get(f"{base}/devices/c1-elec/readings").json()
            assert readings["count"] > 50
            assert readings["readings"][0]["values"]["energy_kwh"] > 0
            # the default faults raise alerts a person sees on the first screen (open, of three severities);
            # their e-mail lands in the mailbox
            # (a budget alert belongs to its month and needs a week of the month's data: none open before the 8th)
            early = today.day < 8
            first_screen = {"night-leak", "purified-ph"} | (set() if early else {"department-over-budget"})
            wait_for(lambda: first_screen <= {a["rule"] for a in api.get(f"{base}/alerts?status=open").json()},
                     60, "open alerts from the demo faults")
            open_now = api.get(f"{base}/alerts?status=open").json()
            assert {a["severity"] for a in open_now} >= {"critical", "major"} | (set() if early else {"minor"})
            rules = {a["rule"] for a in api.get(f"{base}/alerts").json()}
            # the leak also pushes the dormitories' water over their target: a true consequence of the fault
            assert rules <= first_screen | {"dorm-appliance", "department-over-budget",
                                            "department-water-over-budget"}, rules
            assert "dorm-appliance" in rules
            board = {s["device"]: s["standing"] for s in api.get(f"{base}/water-quality").json()}
            assert board["d1-fountain"] == "out"  # red on the drinking-water board
            wait_for(lambda: list((tmp_path / "data" / "mailbox").glob("*.eml")), 30, "an e-mail in the mailbox")
            assert len(api.get(f"{base}/rules").json()) >= 12
            use = api.get(f"{base}/consumption", params={"group_by": "site", "interval": "day"}).json()
            assert use["total"] > 0
            assert api.get(f"{base}/reports/energy", params={"month": use["start"][:7], "format": "pdf"}
                           ).content.startswith(b"%PDF")
            text = log.read_text(encoding="utf-8")
            assert f"mqtt://127.0.0.1:{mqtt_port}" in text
            assert f"http://127.0.0.1:{port}" in text
    finally:
        stop_process(proc, signal.SIGINT, 30)
    assert proc.returncode == 0, log.read_text(encoding="utf-8")[-2000:]


def test_demo_through_the_real_gateway(tmp_path: Path) -> None:
    """`meterwatch demo --gateway`: the first canteen's meters speak DL/T 645 and CJ/T 188 on a simulated RS-485
    line (a pty), the real gateway process reads them and publishes through the broker; the gas meter does not
    answer, and the device list says why, in words."""
    port, mqtt_port = free_port(), free_port()
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cli", "demo", "--gateway", "--days", "2", "--port",
                                 str(port), "--mqtt-port", str(mqtt_port), "--data-dir", str(tmp_path / "data")],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_for(lambda: re.search(r"admin token \S+\s+(mw_\S+)", log.read_text(encoding="utf-8")), 90, "the token")
        token = re.search(r"admin token \S+\s+(mw_\S+)", log.read_text(encoding="utf-8"))
        assert token
        with httpx.Client(headers={"Authorization": f"Bearer {token.group(1)}"}, timeout=10) as api:
            def device(dev_id: str) -> dict:  # type: ignore[type-arg]
                return api.get(f"{base}/devices/{dev_id}").json()

            wait_for(lambda: (device("c1-gas").get("health") or {}).get("code") == "no_answer", 120,
                     "the gateway's word on the silent gas meter")
            health = device("c1-gas")["health"]
            assert "00000001030000 on rs485-1" in health["error"], health
            wait_for(lambda: (device("c1-elec").get("health") or {}).get("ok") is True, 60, "the meter answers")
            readings = api.get(f"{base}/devices/c1-elec/readings").json()["readings"]
            assert readings
            assert all(r["values"]["energy_kwh"] > 0 for r in readings)
    finally:
        stop_process(proc, signal.SIGINT, timeout=60)
    assert proc.returncode == 0, log.read_text(encoding="utf-8")[-3000:]
