"""The annual return (公共机构能源资源消费统计), a year worked by hand, through the API and back out of the XLSX.

The campus: an office building (2000 m², 100 people) and a canteen (1000 m², 20 people). Daily readings at local
midnight over 2026, each day using the same:

  office electricity 100 kWh/day, canteen electricity 50 kWh/day  → 150 × 365 = 54,750 kWh = 5.4750 万kWh
  canteen gas 10 m³/day                                           → 10 × 365 = 3,650 m³
  office water 5 m³/day                                           → 5 × 365 = 1,825 t

Costs: the billing file prices electricity only (0.60 元/kWh, the school's department holds both meters):
  each month is 150 × days × 0.60, the year 54,750 × 0.60 = 32,850.00 元 (billing).
  Gas is entered: 3,650 m³ × 3.30 = 12,045.00 元. Water's cost is not entered: listed to fix.
Entered: floor area 2,800 m² (the form leaves out a store room), vehicles 2 petrol, 1 diesel, 1 new-energy;
  petrol 1,500 L for 11,250.00 元, diesel 800 L for 5,840.00 元. Energy users: not entered, the campus's 100 + 20 = 120.

Standard coal (kgce): electricity 54,750 × 0.1229 = 6,728.775; gas 3,650 × (38,931 ÷ 29,307.6 = 1.32836) =
  4,848.509 (reports/factors.yaml: one heating value); petrol 1,500 × 1.0741 = 1,611.15; diesel 800 × 1.2531 =
  1,002.48; total 14,190.914 kgce = 14.191 tce.
Indicators: 14,190.914 / 2,800 = 5.0682 kgce/m²; 14,190.914 / 120 = 118.258 kgce/person; 1,825 / 120 = 15.208 t/person.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from pypdf import PdfReader

from api.app import build_service, create_app
from api.tokens import TokenStore
from app.return_reminder import ReturnReminder
from app.settings import load_settings
from campus.clock import FrozenClock
from campus.contract import Kind, Reading
from campus.db import DataDir
from campus.model import parse_campus
from campus.scope import Scope
from reports.return_form import ENTRIES, check_value
from tests.support.harness import token_headers
from tests.support.servers import free_port, wait_for

D = Decimal
TZ = dt.timezone(dt.timedelta(hours=8))
CAMPUS = parse_campus("""
site: {id: s, name: 测试中学, timezone: Asia/Shanghai}
buildings:
  - {id: office, name: 办公楼, department: office, floor_area_m2: 2000, occupants: 100}
  - {id: canteen, name: 食堂, department: canteen, floor_area_m2: 1000, occupants: 20}
zones:
  - {id: north, name: 北区, buildings: [office]}
  - {id: south, name: 南区, buildings: [canteen]}
devices:
  - {id: e-off, kind: electricity, building: office, zone: north, interval_s: 86400}
  - {id: e-can, kind: electricity, building: canteen, zone: south, interval_s: 86400}
  - {id: g-can, kind: gas, building: canteen, zone: south, interval_s: 86400}
  - {id: w-off, kind: water, building: office, zone: north, interval_s: 86400}
""")
BILLING = """
tariffs:
  - {id: flat, name: 学校电价, kind: electricity, versions: [{from: 2024-01-01, price: 0.60}]}
payers:
  - {id: school, name: 学校, type: department, meters: [e-off, e-can], tariffs: {electricity: flat}}
"""
DAILY = {"e-off": (Kind.ELECTRICITY, "office", "office", "north", 100.0),
         "e-can": (Kind.ELECTRICITY, "canteen", "canteen", "south", 50.0),
         "g-can": (Kind.GAS, "canteen", "canteen", "south", 10.0),
         "w-off": (Kind.WATER, "office", "office", "north", 5.0)}
ENTERED = {"floor_area_m2": 2800, "vehicles_petrol": 2, "vehicles_diesel": 1, "vehicles_new_energy": 1,
           "petrol_qty": 1500, "petrol_yuan": "11250.00", "diesel_qty": 800, "diesel_yuan": "5840.00",
           "gas_yuan": "12045.00", "credit_code": "12330100MB1234567X"}
WAIT_S = 20

TOTAL = 6728.775 + 3650 * 38931 / 29307.6 + 1611.15 + 1002.48  # kgce, the docstring's sum


def ms(day: dt.date, hour: int = 0) -> int:
    return int(dt.datetime(day.year, day.month, day.day, hour, tzinfo=TZ).timestamp() * 1000)


def readings() -> list[Reading]:
    """Every meter at every local midnight from 2026-01-01 to 2027-01-01."""
    out = []
    for device, (kind, building, dept, zone, per_day) in DAILY.items():
        field = "energy_kwh" if kind is Kind.ELECTRICITY else "volume_m3"
        for i in range(366):
            day = dt.date(2026, 1, 1) + dt.timedelta(days=i)
            out.append(Reading(device, ms(day), kind, "s", building, dept, zone, {field: 1000.0 + per_day * i}))
    return out


@dataclass
class Running:
    client: TestClient
    clock: FrozenClock
    data: Path

    @property
    def reminder(self) -> ReturnReminder:
        got: ReturnReminder = self.client.app.state.return_reminder  # type: ignore[attr-defined]
        return got

    def passes(self, n: int = 2) -> None:
        start = self.reminder.passes
        wait_for(lambda: self.reminder.passes >= start + n, WAIT_S, f"{n} reminder checks")


@contextmanager
def running(data: Path, clock: FrozenClock, smtp_port: int | None = None, check_s: float = 0) -> Iterator[Running]:
    data.mkdir(parents=True, exist_ok=True)
    (data / "billing.yaml").write_text(BILLING, encoding="utf-8")
    port = smtp_port or free_port()
    (data / "roster.yaml").write_text(
        f'channels:\n  email: "mailto://127.0.0.1:{port}?from=meterwatch@yucai.edu.cn&to={{email}}&mode=insecure"\n'
        "people:\n"
        "  - {id: head, name: 王主任, email: head@yucai.example, notify: [email]}\n"
        "  - {id: clerk, name: 李干事, email: clerk@yucai.example, notify: [email]}\n"
        "bulletin: [head]\n", encoding="utf-8")
    settings = load_settings(None, data_dir=data, report={"refresh_s": 0},
                             alerts={"enabled": False, "roster_file": data / "roster.yaml"},
                             billing={"file": data / "billing.yaml", "allowance_check_s": 0},
                             returns={"check_s": check_s})
    service = build_service(settings, CAMPUS, connect_mqtt=False)
    service.start()
    try:
        with TestClient(create_app(settings, service=service, clock=clock), headers=token_headers(data)) as c:
            yield Running(c, clock, data)
    finally:
        service.stop()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data = tmp_path_factory.mktemp("return") / "data"
    clock = FrozenClock(ms(dt.date(2027, 2, 1), 10))
    with running(data, clock) as r:
        r.client.app.state.service.store.write(readings())  # type: ignore[attr-defined]
        got = r.client.put("/api/v1/returns/2026/entries", json={"values": ENTERED, "note": "据车辆台账"})
        assert got.status_code == 200, got.text
        yield r


def _line(body: dict[str, Any], key: str) -> dict[str, Any]:
    line: dict[str, Any] = next(ln for ln in body["lines"] if ln["key"] == key)
    return line


def test_a_year_worked_by_hand(app: Running) -> None:
    r = app.client.get("/api/v1/returns/2026")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["deadline"] == "2027-03-31"
    want = {  # key: (quantity, from, cost, from)
        "electricity": ("5.4750", "meters", "32850.00", "billing"),   # 54,750 kWh; 54,750 × 0.60
        "water": ("1825.00", "meters", None, None),                     # 5 × 365; cost not entered
        "gas": ("3650.00", "meters", "12045.00", "entered"),            # 10 × 365; 3,650 × 3.30
        "petrol": ("1500.00", "entered", "11250.00", "entered"),
        "diesel": ("800.00", "entered", "5840.00", "entered"),
        "coal": (None, None, None, None),
    }
    for key, (qty, q_from, cost, c_from) in want.items():
        ln = _line(body, key)
        assert (ln["quantity"], ln["quantity_from"], ln["cost"], ln["cost_from"]) == (qty, q_from, cost, c_from), key
    assert _line(body, "electricity")["unit"] == "万千瓦时"
    assert _line(body, "electricity")["coverage"] == 1.0
    b = body["basic"]
    assert (b["floor_area_m2"], b["floor_area_from"], b["energy_users"], b["energy_users_from"]) == (
        "2800", "entered", 120, "campus")
    assert [(v["name"], v["count"]) for v in b["vehicles"]] == [("汽油车", 2), ("柴油车", 1), ("新能源汽车", 1),
                                                              ("其他车辆", None)]
    assert body["total_kgce"] == pytest.approx(6728.775 + 3650 * 38931 / 29307.6 + 1611.15 + 1002.48)  # 14,190.914
    assert body["total_tce"] == "14.191"
    ind = body["indicators"]
    assert ind["kgce_per_m2"] == pytest.approx(TOTAL / 2800)
    assert ind["kgce_per_person"] == pytest.approx(TOTAL / 120)
    assert ind["water_t_per_person"] == pytest.approx(1825 / 120)
    assert [f["field"] for f in body["to_fix"]] == ["water_yuan"]
    assert body["entered"]["petrol_qty"]["by"].startswith("test-admin")


def _cells(ws: Any) -> dict[str, list[Any]]:
    """Each row by its first cell (the item's name): the rest of the row's values."""
    return {row[0]: list(row[1:]) for row in ws.iter_rows(values_only=True) if row and row[0] is not None}


def test_the_xlsx_read_back_cell_by_cell(app: Running) -> None:
    r = app.client.get("/api/v1/returns/2026", params={"format": "xlsx"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    again = app.client.get("/api/v1/returns/2026", params={"format": "xlsx"})
    assert again.content == r.content  # the same return, the same bytes
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["基本信息", "能源资源消费状况", "待核对"]
    basic = wb["基本信息"]
    assert basic["A1"].value == "公共机构基本信息"
    assert basic["A3"].value == "填报单位：测试中学"
    assert basic["C3"].value == "统计年度：2026年"
    assert [c.value for c in basic[5]] == ["指标名称", "计量单位", "代码", "数值", "来源"]
    rows = _cells(basic)
    assert rows["单位名称"][2] == "测试中学"
    assert rows["统一社会信用代码"][2] == "12330100MB1234567X"
    assert rows["单位性质"][1:] == ["101", "021", "默认"]
    assert rows["建筑面积"] == ["平方米", "102", 2800, "填报"]
    assert rows["用能人数"] == ["人", "103", 120, "校园文件"]
    assert rows["车辆数：汽油车"][:3] == ["辆", None, 2]
    assert rows["车辆数：柴油车"][2] == 1
    assert rows["车辆数：其他车辆"][2] is None
    assert basic["D9"].number_format == "#,##0.00"  # floor area: a number shown with decimals

    use = wb["能源资源消费状况"]
    assert [c.value for c in use[5]] == ["指标名称", "计量单位", "代码", "消费量", "金额（元）", "来源"]
    rows = _cells(use)
    assert rows["电"] == ["万千瓦时", "110", 5.475, 32850, "表计/结算"]
    assert rows["水"] == ["吨", "120", 1825, None, "表计"]
    assert rows["天然气"] == ["立方米", "140", 3650, 12045, "表计/填报"]
    assert rows["汽油"] == ["升", "170", 1500, 11250, "填报/填报"]
    assert rows["柴油"] == ["升", "180", 800, 5840, "填报/填报"]
    assert rows["煤炭"] == ["吨", "130", None, None, None]
    assert rows["能源消费总量（综合能耗）"][:3] == ["吨标准煤", None, 14.191]
    assert rows["单位建筑面积能耗"][2] == pytest.approx(TOTAL / 2800)
    assert rows["人均用水量"][2] == pytest.approx(1825 / 120)
    electricity = next(row for row in use.iter_rows(min_row=6) if row[0].value == "电")
    assert (electricity[3].number_format, electricity[4].number_format) == ("#,##0.0000", "#,##0.00")
    assert isinstance(electricity[3].value, float)
    assert isinstance(electricity[4].value, int | float)
    assert _cells(wb["待核对"])["water_yuan"][0].startswith("水：有消费量而无费用")

    en = load_workbook(io.BytesIO(app.client.get("/api/v1/returns/2026", params={"format": "xlsx", "lang": "en"})
                                  .content))
    assert en.sheetnames == ["Basic information", "Consumption", "To fix"]
    assert _cells(en["Consumption"])["Electricity"][:3] == ["10⁴ kWh", "110", 5.475]


def test_the_pdf_to_sign(app: Running) -> None:
    r = app.client.get("/api/v1/returns/2026", params={"format": "pdf"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(r.content)).pages)
    for shown in ("测试中学 2026年度公共机构能源资源消费统计", "5.4750", "32,850.00", "12,045.00", "1,825.00",
                  "14.191"):
        assert shown in text, shown


def test_a_correction_keeps_the_history(app: Running) -> None:
    r = app.client.put("/api/v1/returns/2026/entries", json={"values": {"diesel_qty": 810}, "note": "补录"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["entries"]["diesel_qty"]["value"] == "810"
    assert [(h["value"], h["note"]) for h in body["history"] if h["field"] == "diesel_qty"] == [
        ("800", "据车辆台账"), ("810", "补录")]
    assert _line(app.client.get("/api/v1/returns/2026").json(), "diesel")["quantity"] == "810.00"
    put_back = app.client.put("/api/v1/returns/2026/entries", json={"values": {"diesel_qty": 800}})
    assert put_back.status_code == 200


@pytest.mark.parametrize(("values", "says"), [
    ({"floor_area_m2": -5}, "negative"),
    ({"energy_users": 12.5}, "not a whole number"),
    ({"gas_yuan": "12.345"}, "to the fen"),
    ({"credit_code": "12345"}, "unified social credit code"),
    ({"unit_nature": "9"}, "classification code"),
    ({"floor_area_m2": 1e12}, "check the unit"),
    ({"electricity_qty": 5}, "unknown field"),
    ({}, "no values"),
])
def test_entries_refused_say_what_to_fix(app: Running, values: dict[str, Any], says: str) -> None:
    r = app.client.put("/api/v1/returns/2026/entries", json={"values": values})
    assert r.status_code == 422, r.text
    assert says in r.text


def test_one_bad_value_writes_none(app: Running) -> None:
    r = app.client.put("/api/v1/returns/2026/entries", json={"values": {"vehicles_other": 3, "lpg_yuan": "x"}})
    assert r.status_code == 422
    assert "lpg_yuan" in r.text
    assert app.client.get("/api/v1/returns/2026").json()["basic"]["vehicles"][3]["count"] is None


_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-10**15, 10**15),
                   st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=70),
                   st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(
    st.fixed_dictionaries({"values": st.dictionaries(st.sampled_from([*ENTRIES, "nope", "x" * 70]), _VALUE,
                                                     max_size=4)}),
    st.dictionaries(st.text(max_size=8), _VALUE, max_size=3)))
def test_any_body_is_taken_or_refused_never_500(app: Running, body: dict[str, Any]) -> None:
    r = app.client.put("/api/v1/returns/2031/entries", json=body)  # a year of its own: the hand-worked one stays
    assert r.status_code in (200, 422), (body, r.status_code, r.text[:300])


@given(key=st.sampled_from(sorted(ENTRIES)), raw=_VALUE)
def test_a_value_is_stored_canonically_or_refused(key: str, raw: object) -> None:
    try:
        got = check_value(key, raw)
    except ValueError as exc:
        refused = str(exc)
    else:
        refused = ""
    if refused:
        assert key in refused  # the message names the field
        return
    if got is None:
        assert raw is None
        return
    assert check_value(key, got) == got  # stored text is taken back as it is
    if ENTRIES[key].kind in ("int", "decimal", "money"):
        assert D(got) >= 0
        assert D(got) <= ENTRIES[key].max


def test_a_narrowed_token_may_neither_read_nor_write_it(app: Running) -> None:
    store = TokenStore(DataDir(app.data).state)
    try:
        token = store.create("north-admin", "admin", Scope.of(sites=["s"], zones=["north"]))
        viewer = store.create("whole-viewer", "viewer")
    finally:
        store.close()
    narrowed = {"Authorization": f"Bearer {token}"}
    r = app.client.get("/api/v1/returns/2026", headers=narrowed)
    assert r.status_code == 403
    assert "whole site" in r.text
    w = app.client.put("/api/v1/returns/2026/entries", json={"values": {"floor_area_m2": 1}}, headers=narrowed)
    assert w.status_code == 403
    v = app.client.put("/api/v1/returns/2026/entries", json={"values": {"floor_area_m2": 1}},
                       headers={"Authorization": f"Bearer {viewer}"})
    assert v.status_code == 403
    assert app.client.get("/api/v1/returns/2026", headers={"Authorization": f"Bearer {viewer}"}).status_code == 200


# -- the reminder ----------------------------------------------------------------------------------------
@dataclass
class Mail:
    to: list[str]
    subject: str
    body: str


class Smtp:
    """A real SMTP server (aiosmtpd) that records e-mail."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Mail] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                part = msg.get_body(preferencelist=("plain", "html"))
                outer.received.append(Mail(list(envelope.rcpt_tos), str(msg["subject"]),
                                           part.get_content() if part is not None else ""))
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> Smtp:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


def test_the_reminder_goes_once_a_month_before_the_deadline(tmp_path: Path) -> None:
    """31 March 2027 less 30 days: from 1 March 2027, 00:00 in Shanghai; to the roster's bulletin head only."""
    clock = FrozenClock(ms(dt.date(2027, 2, 28), 23))
    with Smtp() as smtp:
        with running(tmp_path / "data", clock, smtp.port, check_s=0.02) as app:
            app.passes()
            assert smtp.received == []  # an hour early
            clock.set(ms(dt.date(2027, 3, 1)))
            wait_for(lambda: len(smtp.received) >= 1, WAIT_S, "the reminder")
            app.passes(3)
            assert [m.to for m in smtp.received] == [["head@yucai.example"]]
            mail = smtp.received[0]
            assert "2026年度公共机构能源资源消费统计" in mail.subject
            assert mail.body.index("须于2027年3月31日前报送") < mail.body.index("due by 2027-03-31")
            (sent,) = app.reminder.outbox.of_site("s", 2026)
            assert (sent.status, sent.person, sent.attempts) == ("sent", "head", 1)
        clock.advance(86400)
        with running(tmp_path / "data", clock, smtp.port, check_s=0.02) as app:
            app.passes(3)  # a restart: remembered in records.db, not sent again
        assert len(smtp.received) == 1


def test_no_reminder_after_the_deadline(tmp_path: Path) -> None:
    clock = FrozenClock(ms(dt.date(2027, 4, 1), 9))
    with Smtp() as smtp, running(tmp_path / "data", clock, smtp.port, check_s=0.02) as app:
        app.passes(3)
        assert smtp.received == []
        assert app.reminder.outbox.of_site("s", 2026) == []
