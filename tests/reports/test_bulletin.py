"""The monthly bulletin (通报): department lines worked by hand on test_energy_report's campus; the sample campus's
three canteens ranked among themselves; the PDF sent with `meterwatch bulletin send` to the heads listed in the
roster, through a real SMTP server (aiosmtpd), attached."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from campus.db import DataDir
from cli.main import main
from ingest.status import PresenceStore
from ingest.stores.sqlite import SqliteStore
from reports.bulletin import build_bulletin
from reports.config import ReportSettings
from reports.energy import build
from reports.usage import Usage
from simulators.model import Simulation, load_campus_doc
from tests.support.alertapp import alert_app
from tests.support.drive import inbound
from tests.support.energy import CAMPUS, NOW_MS, readings
from tests.support.harness import TZ
from tests.support.paths import SAMPLE
from tests.support.peers import SmtpSink


def test_department_lines_by_hand(tmp_path: Path) -> None:
    store, presence = SqliteStore(DataDir(tmp_path).readings), PresenceStore(DataDir(tmp_path).state)
    store.write(readings())
    usage = Usage(tmp_path, store, lambda: {"s": CAMPUS}, presence)
    site = usage.site("s")
    now = build(site, "2026-10", ReportSettings(), now_ms=NOW_MS)
    before = build(site, "2025-10", ReportSettings(), now_ms=NOW_MS, refresh=False)
    lines = {(x.id, x.kind.value): x for x in build_bulletin(CAMPUS, now, before).lines}
    office = lines[("office", "electricity")]
    assert (office.use, office.target, office.pct, office.over) == (pytest.approx(930), 1000, pytest.approx(93), False)
    assert office.last_year == pytest.approx(620)  # 20 kWh a day in October 2025
    assert office.yoy_pct == pytest.approx(50)
    assert (office.per_person, office.per_m2) == (pytest.approx(930 / 50), pytest.approx(930 / 1000))
    gas = lines[("canteen", "gas")]
    assert (gas.use, gas.pct, gas.over, gas.yoy_pct) == (pytest.approx(124), pytest.approx(124), True, 0)
    assert (gas.rank, gas.of) == (1, 1)
    usage.close()
    store.close()
    presence.close()


def test_canteens_ranked_among_canteens_and_the_pdf_sent_to_the_heads(tmp_path: Path) -> None:
    end = datetime.now(TZ).replace(minute=0, second=0, microsecond=0)
    sim = Simulation(load_campus_doc(SAMPLE), start=end - timedelta(hours=30), end=end, seed=6, faults=[])
    month = end.strftime("%Y-%m")
    with SmtpSink() as smtp:
        data = tmp_path / "data"
        roster = tmp_path / "roster.yaml"
        roster.write_text(f"""
channels:
  email: "mailto://127.0.0.1:{smtp.port}?from=meterwatch@yucai.edu.cn&to={{email}}&mode=insecure"
people:
  - {{id: chen, name: 陈志明, email: chen@yucai.edu.cn, notify: [email]}}
  - {{id: wang, name: 王建国, email: wang@yucai.edu.cn, notify: [email]}}
bulletin: [chen]
""", encoding="utf-8")
        with alert_app(data, inbound(sim.publications()), store=True) as (c, _):
            b = c.get(f"/api/v1/reports/bulletin/{month}").json()
            canteens = [x for x in b["lines"] if x["peers"] == "canteen" and x["kind"] == "electricity"]
            assert [x["scope"] for x in canteens] == ["building"] * 3
            assert sorted(x["rank"] for x in canteens) == [1, 2, 3]
            assert {x["of"] for x in canteens} == {3}
            by_pct = sorted(canteens, key=lambda x: x["pct"])
            assert [x["rank"] for x in by_pct] == [1, 2, 3]
            assert any(x["scope"] == "department" for x in b["lines"])
            pdf = c.get(f"/api/v1/reports/bulletin/{month}", params={"format": "pdf"})
            assert pdf.content.startswith(b"%PDF")
        config = tmp_path / "meterwatch.toml"
        config.write_text(f'data_dir = "{data}"\n[alerts]\nroster_file = "{roster}"\n', encoding="utf-8")
        assert main(["bulletin", "send", "--month", month, "--config", str(config)]) == 0
        assert len(smtp.received) == 1  # the head listed, not everybody
        mail = smtp.received[0]
        assert mail.to == ["chen@yucai.edu.cn"]
        assert "能源使用情况通报" in mail.subject
        assert mail.attachments == [f"bulletin-yucai-{month}.pdf"]
