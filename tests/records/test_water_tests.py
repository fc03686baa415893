"""Water tests: a laboratory pH of 5.9 raises the safety alert a sensor would (naming the test), a later result
within the limit settles it; a laboratory result that disagrees with the point's sensor raises a drift alert; a
parameter without a known limit must bring its own; what is due over 14 days and a term; the A4 public notice."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from alerts.service import AlertService
from campus.clock import FrozenClock
from simulators.model import Simulation, load_campus_doc
from tests.support.drive import inbound
from tests.support.harness import TZ, token_headers
from tests.support.paths import SAMPLE
from tests.support.records import ms, records_app

NOW = dt.datetime(2026, 11, 20, 14, 0, tzinfo=TZ)
SAMPLED = dt.datetime(2026, 11, 20, 10, 0, tzinfo=TZ)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, AlertService, FrozenClock]]:
    """Six hours of the sample campus (every fountain sensor, RO-filtered water, reading pH about 7.0 and free
    chlorine 0.00–0.02 mg/L) up to NOW."""
    sim = Simulation(load_campus_doc(SAMPLE), start=NOW - dt.timedelta(hours=6), end=NOW, seed=3, faults=[])
    with records_app(tmp_path, NOW, inbound(sim.publications())) as made:
        yield made


def _test(c: TestClient, headers: dict[str, str], **fields: object) -> dict[str, object]:
    body = {"point": "ta-fountain", "taken_at": SAMPLED.isoformat(), "kind": "lab", "lab": "市疾控中心",
            **fields}
    got = c.post("/api/v1/water-tests", json=body, headers=headers)
    assert got.status_code == 201, got.text
    return dict(got.json())


def test_a_lab_ph_of_5_9_raises_a_safety_alert_naming_the_test(app: tuple[TestClient, AlertService, FrozenClock],
                                                               tmp_path: Path) -> None:
    c, alerts, clock = app
    electrician = token_headers(tmp_path, "electrician", "水电组")
    t = _test(c, electrician, point="d2-fountain", values={"ph": 5.9, "turbidity_ntu": 0.4})
    assert not t["passed"]
    ph = next(r for r in t["results"] if r["field"] == "ph")  # type: ignore[attr-defined]
    # d2-fountain is a direct-drinking fountain (purified_drinking): CJ 94-2005's 6.0–8.5, and 5.9 is below it
    assert (ph["ok"], ph["limit"], ph["rule"]) == (False, "6–8.5", "purified-ph")
    assert len(t["alerts"]) == 1  # type: ignore[arg-type]
    alert = c.get(f"/api/v1/alerts/{t['alerts'][0]}").json()  # type: ignore[index]
    assert (alert["rule"], alert["category"], alert["severity"]) == ("purified-ph", "safety", "major")
    assert f"#{t['id']}" in alert["detail"]
    assert "市疾控中心" in alert["detail"]
    assert "5.9" in alert["detail"]
    assert alert["building"] == "dorm-2"
    assert alert["zone"] == "zone-north"
    store = alerts.desk.store
    assert {n.recipient for n in store.notices(alert["id"]) if n.event == "raised"} == {"wang"}
    # a retest within the limit settles it
    clock.set(ms(NOW + dt.timedelta(days=1)))
    _test(c, electrician, point="d2-fountain", kind="self", lab=None,
          taken_at=(NOW + dt.timedelta(hours=20)).isoformat(), values={"ph": 7.1})
    assert store.get(alert["id"]).status == "resolved"


def test_a_lab_result_that_disagrees_with_its_sensor_raises_a_drift_alert(
        app: tuple[TestClient, AlertService, FrozenClock], tmp_path: Path) -> None:
    c, alerts, _ = app
    electrician = token_headers(tmp_path, "electrician", "水电组")
    # a fountain's water: its carbon removed the chlorine (the sensor reads 0.00–0.02 mg/L)
    agrees = _test(c, electrician, values={"ph": 7.25, "free_chlorine_mgl": 0.02})
    assert agrees["passed"]
    assert agrees["alerts"] == []
    t = _test(c, electrician, values={"ph": 8.2, "free_chlorine_mgl": 0.02})  # in the limit, far from the sensor
    assert t["passed"]
    assert len(t["alerts"]) == 1
    alert = alerts.desk.store.get(t["alerts"][0])  # type: ignore[index]
    assert (alert.rule, alert.category, alert.device) == ("sensor-drift", "data", "ta-fountain")
    assert abs((alert.value or 0) - 7.0) < 0.35  # the sensor's reading (7.0 ± 0.15 drift), beside the lab's 8.2
    assert "8.2" in (alert.detail or "")
    # a point without a sensor has nothing to drift from
    plain = _test(c, electrician, point="d3-fountain", values={"ph": 8.2})
    assert plain["alerts"] == []


def test_values_without_a_known_limit_must_bring_one_and_bad_results_are_refused(
        app: tuple[TestClient, AlertService, FrozenClock], tmp_path: Path) -> None:
    c, _, _ = app
    electrician = token_headers(tmp_path, "electrician", "水电组")
    base = {"point": "ta-fountain", "taken_at": SAMPLED.isoformat(), "kind": "self"}
    unknown = c.post("/api/v1/water-tests", json={**base, "values": {"arsenic_mgl": 0.002}}, headers=electrician)
    assert unknown.status_code == 422
    assert "send it with its limit" in unknown.json()["detail"]
    own = _test(c, electrician, kind="self", lab=None, values={"arsenic_mgl": {"value": 0.02, "max": 0.01,
                                                                               "unit": "mg/L", "name": "砷"}})
    assert not own["passed"]
    assert len(own["alerts"]) == 1
    lab_only = _test(c, electrician, values={"total_coliforms": 0, "lead_mgl": 0.004})
    assert lab_only["passed"]
    future = c.post("/api/v1/water-tests", json={**base, "taken_at": (NOW + dt.timedelta(hours=2)).isoformat(),
                                                 "values": {"ph": 7}}, headers=electrician)
    assert future.status_code == 422
    assert "in the future" in future.json()["detail"]
    naive = c.post("/api/v1/water-tests", json={**base, "taken_at": "2026-11-20T10:00:00", "values": {"ph": 7}},
                   headers=electrician)
    assert naive.status_code == 422
    nowhere = c.post("/api/v1/water-tests", json={**base, "point": "nowhere", "values": {"ph": 7}},
                     headers=electrician)
    assert nowhere.status_code == 404
    no_lab = c.post("/api/v1/water-tests", json={**base, "kind": "lab", "values": {"ph": 7}}, headers=electrician)
    assert no_lab.status_code == 422
    assert "laboratory's name" in no_lab.json()["detail"]
    assert c.post("/api/v1/water-tests", json={**base, "values": {"ph": 7}},
                  headers=token_headers(tmp_path, "viewer", "看板")).status_code == 403


def test_the_lab_report_pdf_is_kept_and_a_non_pdf_refused(app: tuple[TestClient, AlertService, FrozenClock],
                                                          tmp_path: Path) -> None:
    c, _, _ = app
    electrician = token_headers(tmp_path, "electrician", "水电组")
    record = {"point": "tank-2nd", "taken_at": SAMPLED.isoformat(), "kind": "lab", "lab": "市疾控中心",
              "values": {"ph": 7.4, "total_coliforms": 0}}
    pdf = b"%PDF-1.4\n% a laboratory's report\n%%EOF\n"
    made = c.post("/api/v1/water-tests", data={"record": json.dumps(record)},
                  files=[("attachment", ("report.pdf", pdf, "application/pdf"))], headers=electrician)
    assert made.status_code == 201, made.text
    sha = made.json()["attachment"]
    got = c.get(f"/api/v1/files/{sha}")
    assert got.content == pdf
    assert got.headers["content-type"] == "application/pdf"
    bad = c.post("/api/v1/water-tests", data={"record": json.dumps(record)},
                 files=[("attachment", ("report.pdf", b"GIF89a...", "application/pdf"))], headers=electrician)
    assert bad.status_code == 422
    assert "is not a PDF" in bad.json()["detail"]


def test_due_tests_every_14_days_and_once_a_term(app: tuple[TestClient, AlertService, FrozenClock],
                                                 tmp_path: Path) -> None:
    c, alerts, clock = app
    electrician = token_headers(tmp_path, "electrician", "水电组")

    def due(point: str) -> dict[str, str]:
        return {d["kind"]: d["status"] for d in c.get("/api/v1/water-tests", params={"due": "true", "point": point})
                .json()}

    assert due("d2-fountain") == {"self": "due", "lab": "due", "filter": "due"}  # never tested, a fountain
    assert due("c2-tap") == {"self": "due", "lab": "due"}                      # a tap: no filter
    _test(c, electrician, point="d2-fountain", kind="self", lab=None, values={"ph": 7.2})
    _test(c, electrician, point="d2-fountain", values={"ph": 7.2})
    _test(c, electrician, point="d2-fountain", kind="filter", lab=None, values={})
    assert due("d2-fountain") == {}
    clock.set(ms(SAMPLED + dt.timedelta(days=12)))  # due within three days
    assert due("d2-fountain") == {"self": "due"}
    clock.set(ms(SAMPLED + dt.timedelta(days=15)))
    assert due("d2-fountain") == {"self": "overdue"}
    records = c.app.state.records  # type: ignore[attr-defined]
    records.check()
    late = alerts.desk.store.open_for("yucai", "water-test-overdue", "self:d2-fountain")
    assert late is not None
    assert late.category == "data"
    assert "水质自检" in (late.detail or "")
    _test(c, electrician, point="d2-fountain", kind="self", lab=None,
          taken_at=(SAMPLED + dt.timedelta(days=15)).isoformat(), values={"ph": 7.2})
    assert alerts.desk.store.get(late.id).status == "resolved"
    # the autumn term ends 22 Jan 2027; with no lab test the vacation after it shows it overdue
    clock.set(ms(dt.datetime(2027, 1, 25, 9, 0, tzinfo=TZ)))
    assert due("c2-tap")["lab"] == "overdue"


def test_the_public_notice_is_an_a4_pdf_of_the_latest_results(app: tuple[TestClient, AlertService, FrozenClock],
                                                              tmp_path: Path) -> None:
    c, _, _ = app
    electrician = token_headers(tmp_path, "electrician", "水电组")
    _test(c, electrician, point="d2-fountain", values={"ph": 7.3, "turbidity_ntu": 0.2, "total_coliforms": 0})
    got = c.get("/api/v1/water-tests/notice", params=[("point", "d2-fountain"), ("point", "d3-fountain")])
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(got.content))
    width, height = (float(x) for x in reader.pages[0].mediabox.upper_right)
    assert (round(width), round(height)) == (595, 842)  # A4 portrait
    text = "".join(p.extract_text() for p in reader.pages)
    # the two points are direct-drinking fountains: CJ 94-2005 (pH 6.0–8.5) is the standard the notice names
    for expected in ("饮用水水质检测结果公示", "2号楼直饮水机", "pH", "6–8.5", "合格", "市疾控中心", "3号楼直饮水机",
                     "尚无检测记录", "CJ 94-2005"):
        assert expected in text, expected
    assert c.get("/api/v1/water-tests/notice", params={"point": "nowhere"}).status_code == 404
    # #21: the same point twice gave 500 (StopIteration); it is shown once
    twice = c.get("/api/v1/water-tests/notice", params=[("point", "d2-fountain"), ("point", "d2-fountain")])
    assert twice.status_code == 200
    assert "".join(p.extract_text() for p in PdfReader(io.BytesIO(twice.content)).pages).count("2号楼直饮水机") == 1
    assert c.get("/api/v1/water-tests/notice", params=[("point", "d2-fountain"), ("point", "nowhere"),
                                                       ("point", "d2-fountain")]).status_code == 404
    points = {p["id"]: p for p in c.get("/api/v1/water-tests/points").json()}
    assert points["ta-fountain"]["device"] == "ta-fountain"
    assert points["d2-fountain"]["device"] is None
    assert points["c2-tap"]["limits"]["ph"] == "6.5–8.5"


def test_a_test_cannot_set_its_own_limit_for_a_parameter_meterwatch_knows(
        app: tuple[TestClient, AlertService, FrozenClock], tmp_path: Path) -> None:
    """#21: {"ph": {"value": 9.9, "min": 0, "max": 14}} passed, and the notice printed "pH 9.9, limit 0–14, pass"."""
    c, _, _ = app
    electrician = token_headers(tmp_path, "electrician", "水电组")
    body = {"point": "ta-fountain", "taken_at": SAMPLED.isoformat(), "kind": "self",
            "values": {"ph": {"value": 9.9, "min": 0, "max": 14}}}
    got = c.post("/api/v1/water-tests", json=body, headers=electrician)
    assert got.status_code == 422, got.text
    assert "ph: its limit at ta-fountain is 6–8.5 (CJ 94-2005" in got.json()["detail"]  # a purified fountain
    assert '{"ph": 9.9}' in got.json()["detail"]
    assert c.get("/api/v1/water-tests", params={"point": "ta-fountain"}).json() == []
    plain = _test(c, electrician, kind="self", lab=None, values={"ph": 9.9})
    assert not plain["passed"]


def test_the_notice_shows_a_failed_lab_test_beside_a_later_self_test(
        app: tuple[TestClient, AlertService, FrozenClock], tmp_path: Path) -> None:
    """#21: a later self-test that passed hid the laboratory's failed result on the public notice."""
    c, _, _ = app
    electrician = token_headers(tmp_path, "electrician", "水电组")
    _test(c, electrician, point="d2-fountain", values={"ph": 7.3, "total_coliforms": 3})
    _test(c, electrician, point="d2-fountain", kind="self", lab=None,
          taken_at=(SAMPLED + dt.timedelta(hours=3)).isoformat(), values={"ph": 7.2})
    for lang, failed, lab in (("zh-CN", "不合格", "市疾控中心"), ("en", "FAIL", "市疾控中心")):
        got = c.get("/api/v1/water-tests/notice", params={"point": "d2-fountain", "lang": lang})
        assert got.status_code == 200
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(got.content)).pages)
        assert failed in text, text
        assert lab in text
        assert "7.3" in text  # the laboratory's pH
        assert "7.2" in text  # beside the self-test's
