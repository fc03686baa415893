"""The meterwatch command as people use it: --help, ledger import, errors that say what to fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from campus.db import DataDir
from campus.registry import Registry
from tests.support.paths import ROOT, SAMPLE
from tests.support.servers import wait_for


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)


def test_help_explains_commands(tmp_path: Path) -> None:
    out = _run("--help", cwd=tmp_path)
    assert out.returncode == 0
    for word in ("demo", "serve", "simulate", "devices", "校园"):
        assert word in out.stdout
    assert "water_leak" in _run("simulate", "--list-faults", cwd=tmp_path).stdout


def test_devices_import_adds_devices_and_refuses_bad_rows(tmp_path: Path) -> None:
    config = tmp_path / "mw.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[campus]\nfile = "{SAMPLE}"\n')
    from campus.model import load_campus

    registry = Registry(DataDir(tmp_path / "data").state)
    registry.seed(load_campus(SAMPLE))
    ledger = tmp_path / "台账.csv"
    ledger.write_text("表号,类型,楼栋,倍率\nnew-w1,水表,dorm-2,1\nc1-elec,电表,canteen-1,50\n", encoding="utf-8")
    ok = _run("devices", "import", str(ledger), "--config", str(config), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "新增 1, 更新 1" in ok.stdout
    wait_for(lambda: registry.device("c1-elec").multiplier == 50, 5, "registry sees the import")
    assert registry.device("c1-elec").name == "一食堂总电表"  # columns not in the ledger are kept
    ledger.write_text("表号,类型,楼栋\nbad,蒸汽表,dorm-2\n", encoding="utf-8")
    bad = _run("devices", "import", str(ledger), "--config", str(config), cwd=tmp_path)
    assert bad.returncode == 2
    assert "row 2, column 2 (类型)" in bad.stderr
    assert "nothing imported" in bad.stderr
    missing = _run("serve", "--config", str(tmp_path / "nope.toml"), cwd=tmp_path)
    assert missing.returncode == 2
    assert "not found" in missing.stderr
    registry.close()


def test_rules_check_lists_rules_and_who_is_on_duty(tmp_path: Path) -> None:
    out = _run("rules", "check", "--roster", str(ROOT / "alerts" / "sample_roster.yaml"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "canteen-gas-closed" in out.stdout
    assert "食堂非营业时间燃气使用" in out.stdout
    assert "当前值班" in out.stdout


def test_rules_check_checks_the_plans_against_the_roster(tmp_path: Path) -> None:
    plans = str(ROOT / "alerts" / "sample_plans.yaml")
    out = _run("rules", "check", "--roster", str(ROOT / "alerts" / "sample_roster.yaml"), "--plans", plans,
               cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "应急预案 plans: 6" in out.stdout
    assert "食堂燃气泄漏应急预案  ← canteen-gas-closed" in out.stdout
    bare = _run("rules", "check", "--plans", plans, cwd=tmp_path)  # no roster: no roles for the steps
    assert bare.returncode == 2
    assert "plan water-burst, step 3 (report): unknown role 'crew_leader'" in bare.stderr


def test_rules_check_names_the_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules:\n  - {id: x, name: {zh: a, en: b}, category: safety, severity: huge,\n"
                   "     condition: {type: stale}}\n", encoding="utf-8")
    out = _run("rules", "check", "--rules", str(bad), cwd=tmp_path)
    assert out.returncode == 2
    assert f"{bad}:2: rules.0.severity" in out.stderr


def test_report_energy_command(tmp_path: Path) -> None:
    """`meterwatch report energy` on a data directory written by the real pipeline (no service running)."""
    import json as json_
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from openpyxl import load_workbook

    from api.app import build_service
    from app.settings import load_settings
    from campus.model import load_campus
    from ingest.decode import Inbound

    data = tmp_path / "data"
    svc = build_service(load_settings(None, data_dir=data), load_campus(SAMPLE), connect_mqtt=False)
    svc.start()
    tz = ZoneInfo("Asia/Shanghai")
    t0 = datetime(2026, 10, 1, tzinfo=tz).timestamp()
    items = [{"ts": t0 + h * 3600, "values": {"volume_m3": 5300 + 2 * h}} for h in range(24 * 31 + 1)]
    now_ms = int(datetime.now(tz).timestamp() * 1000)
    svc.pipeline.commit([Inbound("campus/yucai/c1-water/reading", json_.dumps(items).encode(), now_ms, 1, 1)])
    svc.stop()
    config = tmp_path / "mw.toml"
    config.write_text(f'data_dir = "{data}"\n')
    out = _run("report", "energy", "--month", "2026-10", "--config", str(config), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    report = json_.loads(out.stdout)
    canteen = next(b for b in report["buildings"] if b["id"] == "canteen-1")
    assert canteen["figures"]["water_m3"] == 2 * 24 * 31
    xlsx = tmp_path / "2026-10.xlsx"
    out = _run("report", "energy", "--month", "2026-10", "--config", str(config), "-o", str(xlsx), "--lang", "en",
               cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert load_workbook(xlsx).sheetnames[0] == "Summary"
    assert "已生成" in out.stderr
    bad = _run("report", "energy", "--month", "10/2026", "--config", str(config), cwd=tmp_path)
    assert bad.returncode == 2
    assert "YYYY-MM" in bad.stderr
    assert _run("report", "energy", "--month", "2026-10", "--format", "pdf", cwd=tmp_path).returncode == 2  # needs -o


def test_credentials_say_whom_to_issue_for_and_never_show_a_secret(tmp_path: Path) -> None:
    from campus.model import load_campus

    config = tmp_path / "mw.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[campus]\nfile = "{SAMPLE}"\n')
    registry = Registry(DataDir(tmp_path / "data").state)
    registry.seed(load_campus(SAMPLE))
    registry.close()
    behind = _run("credentials", "issue", "c1-elec", "--config", str(config), cwd=tmp_path)
    assert behind.returncode == 2
    assert "publishes through gateway 'gw-canteen-1'" in behind.stderr
    assert "no gateway or device 'nobody'" in _run("credentials", "issue", "nobody", "--config", str(config),
                                                     cwd=tmp_path).stderr
    issued = _run("credentials", "issue", "gw-canteen-1", "--config", str(config), cwd=tmp_path)
    assert issued.returncode == 0, issued.stderr
    secret = issued.stdout.splitlines()[-1]
    assert len(secret) >= 32
    listing = _run("credentials", "list", "--config", str(config), cwd=tmp_path).stdout
    assert secret not in listing
    assert "active" in next(line for line in listing.splitlines() if line.startswith("gw-canteen-1"))
    assert "none" in next(line for line in listing.splitlines() if line.startswith("ta-fountain"))
    again = _run("credentials", "issue", "gw-canteen-1", "--config", str(config), cwd=tmp_path)
    assert again.returncode == 2
    assert "rotate" in again.stderr
    # no [broker] certificates: deploy says what to set
    deploy = _run("deploy", "mosquitto", "--config", str(config), cwd=tmp_path)
    assert deploy.returncode == 2
    assert "tls_port needs certfile and keyfile" in deploy.stderr
    # ingest has an account, the alert process none: it would be refused (or share ingest's session)
    config.write_text(config.read_text() + '[mqtt]\nusername = "mw-ingest"\npassword = "x"\n')
    shared = _run("deploy", "mosquitto", "--config", str(config), cwd=tmp_path)
    assert shared.returncode == 2
    assert "[alerts] username" in shared.stderr


def test_grafana_provision_command(tmp_path: Path) -> None:
    config = tmp_path / "mw.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[store]\nbackend = "influxdb"\n[campus]\nfile = "{SAMPLE}"\n')
    out = _run("grafana", "provision", "--config", str(config), "--out", str(tmp_path / "grafana"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "5 dashboards" in out.stdout
    assert (tmp_path / "grafana" / "dashboards" / "drinking-water.json").is_file()
    sqlite = tmp_path / "sqlite.toml"
    sqlite.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    refused = _run("grafana", "provision", "--config", str(sqlite), "--out", str(tmp_path / "g2"), cwd=tmp_path)
    assert refused.returncode == 2
    assert 'backend = "influxdb"' in refused.stderr


def test_production_steps_work_in_the_readmes_order(tmp_path: Path, capsys: object) -> None:
    """#21: `credentials issue` before serve had ever run said "no gateway … in the registry". A command that
    reads the registry seeds an empty one from [campus] file, as serve does."""
    from cli.main import main

    config = tmp_path / "mw.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[campus]\nfile = "{SAMPLE}"\n[broker]\ntls_port = 0\n',
                      encoding="utf-8")
    assert main(["credentials", "issue", "gw-canteen-1", "--config", str(config)]) == 0
    assert main(["deploy", "mosquitto", "--config", str(config), "--out", str(tmp_path / "broker")]) == 0
    assert "gw-canteen-1:" in (tmp_path / "broker" / "passwd").read_text(encoding="utf-8")


def test_revocation_is_recorded_even_when_two_sites_share_a_publisher(tmp_path: Path) -> None:
    """#21: with a gateway id in two sites (a registry from before that was refused), `credentials revoke`
    exited 2 and the revocation was never recorded."""
    from cli.main import main
    from deploy.credentials import Credentials
    from tests.support.district import district_dir

    config = tmp_path / "mw.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[campus]\nfile = "{district_dir(tmp_path)}"\n',
                      encoding="utf-8")
    from campus.model import load_sites

    registry = Registry(DataDir(tmp_path / "data").state)  # as serve left it: both sites, gw-dorm-1 in each
    registry.seed_all(load_sites(district_dir(tmp_path)))
    registry.close()
    store = Credentials(DataDir(tmp_path / "data").state)
    store.issue("gw-dorm-1")
    store.close()
    main(["credentials", "revoke", "gw-dorm-1", "--config", str(config)])  # the broker's files: refused, said
    store = Credentials(DataDir(tmp_path / "data").state)
    try:
        assert not next(c for c in store.list() if c.id == "gw-dorm-1").active
    finally:
        store.close()
