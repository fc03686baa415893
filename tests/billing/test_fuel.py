"""The canteens' fuel account (燃料成本核算专账) through the API, on the small campus of tests/support/fuel.py.

October 2026 of 一食堂承包方 (canteen-1), worked by hand:

  gas       g1: 2 m³/h × 24 h × 31 days = 1488 m³ × 3.45 元 = 5133.60 元
  LPG       one delivery on Oct 12: 8 bottles × 14.5 kg = 116 kg, at 118.50 元 a bottle: 8 × 118.50 = 948.00 元
  total     5133.60 + 948.00 = 6081.60 元
  meals     24,000 in the month (a month figure)
  per meal  6081.60 ÷ 24000 = 0.2534 → 0.25 元; target 0.30 → 0.25 − 0.30 = −0.05 (under target)
  last year October 2025: no gas reading (they start 2026-09-30), no delivery → "—"
"""

from __future__ import annotations

import datetime as dt
import io
import json
import string
from collections.abc import Callable, Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from api.tokens import TokenStore
from billing.book import Book
from billing.config import parse_billing
from billing.fuel import FuelStore
from billing.fuel_account import account
from billing.pricing import NoPrice
from billing.statements import Statement
from campus.clock import FrozenClock
from campus.db import DataDir
from campus.scope import Scope
from tests.support.fuel import BILLING, CAMPUS, CAMPUS_YAML, NOW, readings
from tests.support.harness import token_headers
from tests.support.records import png
from tests.support.stack import Stack

D = Decimal
MS = int(NOW.timestamp() * 1000)


def _token(data: Path, name: str, role: str, scope: Scope) -> dict[str, str]:
    store = TokenStore(DataDir(data).state)
    try:
        return {"Authorization": f"Bearer {store.create(name, role, scope)}"}
    finally:
        store.close()


class Fuel:
    def __init__(self, client: TestClient, stack: Stack, clock: FrozenClock) -> None:
        self.c, self.stack, self.clock = client, stack, clock
        self.admin = client.headers
        data = stack.data
        self.north = _token(data, "north-op", "electrician", Scope.of(sites=["fs"], zones=["north"]))
        self.south = _token(data, "south-op", "electrician", Scope.of(sites=["fs"], zones=["south"]))
        self.viewer = _token(data, "viewer", "viewer", Scope())


@pytest.fixture(scope="module")
def fuel(app_stack: Callable[..., Stack], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuel]:
    files = tmp_path_factory.mktemp("fuel-files")
    (files / "campus.yaml").write_text(CAMPUS_YAML, encoding="utf-8")
    (files / "billing.yaml").write_text(BILLING, encoding="utf-8")
    stack = app_stack(files / "campus.yaml", name="fuel", report={"refresh_s": 0},
                      billing={"file": str(files / "billing.yaml")})
    stack.ingest.store.write(readings())
    clock = FrozenClock(MS)
    app = stack.app(clock)
    with TestClient(app, headers=token_headers(stack.data, name="老王")) as c:
        yield Fuel(c, stack, clock)


LPG = {"payer": "canteen-1", "day": "2026-10-12", "fuel": "lpg", "quantity": "8", "unit": "bottle",
       "kg_per_bottle": "14.5", "unit_price": "118.50", "supplier": "城东液化气站"}


def _canteen(body: dict[str, Any], payer: str) -> dict[str, Any]:
    return next(c for c in body["canteens"] if c["payer"] == payer)


def test_a_month_with_one_lpg_delivery_to_the_fen(fuel: Fuel) -> None:
    c = fuel.c
    got = c.post("/api/v1/fuel/deliveries", json=LPG)
    assert got.status_code == 201, got.text
    d = got.json()
    assert (d["amount"], d["counted_unit"], D(d["counted_quantity"])) == ("948.00", "kg", D("116"))
    assert d["entered_by"] == "老王"
    assert dt.datetime.fromisoformat(d["entered_at"]) == NOW
    assert c.post("/api/v1/fuel/meals", json={"payer": "canteen-1", "month": "2026-10", "meals": 24000}
                  ).status_code == 201
    a = c.get("/api/v1/fuel/account/2026-10?payer=canteen-1").json()
    one = _canteen(a, "canteen-1")
    fuels = {f["fuel"]: (D(f["quantity"]), D(f["amount"])) for f in one["fuels"]}
    assert fuels == {"gas": (D("1488.00"), D("5133.60")), "lpg": (D("116.00"), D("948.00"))}
    assert D(one["total"]) == D("6081.60") == sum(a for _, a in fuels.values())
    assert (one["meals"], one["meals_from"]) == (24000, "month")
    assert D(one["cost_per_meal"]) == D("0.25")
    assert D(one["target_per_meal"]) == D("0.30")
    assert D(one["over_target"]) == D("-0.05")
    assert one["last_year"] == {"month": "2025-10", "total": None, "meals": None, "cost_per_meal": None}
    assert D(a["total"]) == D("6081.60")


def test_cost_per_meal_from_day_figures_and_last_year(fuel: Fuel) -> None:
    """canteen-2 burns diesel only. October 2025: 200 L × 7.85 = 1570.00 元 over 5000 meals = 0.314 → 0.31.
    October 2026: 150 L × 8.10 = 1215.00 元 and 0.5 t of coal × 1200.00 = 600.00 → 1815.00 over the day figures
    1000 + 1200 + 1300 = 3500 meals = 0.5185… → 0.52 元, 0.02 over its target of 0.50."""
    c = fuel.c
    for day, fuel_, qty, unit, price in (("2025-10-20", "diesel", "200", "L", "7.85"),
                                         ("2026-10-03", "diesel", "150", "L", "8.10"),
                                         ("2026-10-25", "coal", "0.5", "t", "1200.00")):
        got = c.post("/api/v1/fuel/deliveries", json={"payer": "canteen-2", "day": day, "fuel": fuel_,
                                                       "quantity": qty, "unit": unit, "unit_price": price,
                                                       "supplier": "城南供应站"})
        assert got.status_code == 201, got.text
    assert c.post("/api/v1/fuel/meals", json={"payer": "canteen-2", "month": "2025-10", "meals": 5000}
                  ).status_code == 201
    for day, n in (("2026-10-01", 1000), ("2026-10-02", 1200), ("2026-10-05", 1300)):
        assert c.post("/api/v1/fuel/meals", json={"payer": "canteen-2", "day": day, "meals": n}).status_code == 201
    two = _canteen(c.get("/api/v1/fuel/account/2026-10").json(), "canteen-2")
    assert {f["fuel"]: (f["unit"], D(f["quantity"]), D(f["amount"])) for f in two["fuels"]} == {
        "diesel": ("L", D("150.00"), D("1215.00")), "coal": ("kg", D("500.00"), D("600.00"))}
    assert (D(two["total"]), two["meals"], two["meals_from"]) == (D("1815.00"), 3500, "days")
    assert (D(two["cost_per_meal"]), D(two["over_target"])) == (D("0.52"), D("0.02"))
    assert two["last_year"] == {"month": "2025-10", "total": "1570.00", "meals": 5000, "cost_per_meal": "0.31"}


def test_day_figures_win_and_a_month_figure_is_refused_once_days_exist(fuel: Fuel) -> None:
    c = fuel.c
    # days exist in October 2026: a month figure would never count
    refused = c.post("/api/v1/fuel/meals", json={"payer": "canteen-2", "month": "2026-10", "meals": 90000})
    assert refused.status_code == 409
    assert "day figures win" in refused.json()["detail"]
    # November: a month figure first, then a day: the day takes over, the month figure is kept and not counted
    assert c.post("/api/v1/fuel/meals", json={"payer": "canteen-1", "month": "2026-11", "meals": 30000}
                  ).status_code == 201
    assert c.post("/api/v1/fuel/meals", json={"payer": "canteen-1", "day": "2026-11-01", "meals": 800}
                  ).status_code == 201
    again = c.post("/api/v1/fuel/meals", json={"payer": "canteen-1", "day": "2026-11-01", "meals": 850})
    assert again.status_code == 201
    assert again.json()["replaces"] is not None
    listed = c.get("/api/v1/fuel/meals?payer=canteen-1&month=2026-11").json()
    assert [(m["period"], m["meals"], m["counted"]) for m in listed] == [("2026-11", 30000, False),
                                                                          ("2026-11-01", 850, True)]
    one = _canteen(c.get("/api/v1/fuel/account/2026-11?payer=canteen-1").json(), "canteen-1")
    assert (one["meals"], one["meals_from"]) == (850, "days")
    # a day not yet begun at the site is refused
    assert c.post("/api/v1/fuel/meals", json={"payer": "canteen-1", "day": "2026-11-03", "meals": 1}
                  ).status_code == 422


def test_a_correction_replaces_and_keeps_the_old_delivery(fuel: Fuel) -> None:
    c = fuel.c
    first = c.post("/api/v1/fuel/deliveries", json={**LPG, "day": "2026-11-01", "quantity": "4"}).json()
    fixed = c.post("/api/v1/fuel/deliveries", json={**LPG, "day": "2026-11-01", "quantity": "5",
                                                     "replaces": first["id"]})
    assert fixed.status_code == 201, fixed.text
    twice = c.post("/api/v1/fuel/deliveries", json={**LPG, "day": "2026-11-01", "replaces": first["id"]})
    assert twice.status_code == 409
    assert f"#{fixed.json()['id']}" in twice.json()["detail"]
    current = c.get("/api/v1/fuel/deliveries?payer=canteen-1&month=2026-11").json()
    assert [d["quantity"] for d in current] == ["5"]
    every = c.get("/api/v1/fuel/deliveries?payer=canteen-1&month=2026-11&replaced=true").json()
    assert [(d["quantity"], d["replaced_by"]) for d in every] == [("4", fixed.json()["id"]), ("5", None)]
    lpg = next(f for f in _canteen(c.get("/api/v1/fuel/account/2026-11?payer=canteen-1").json(),
                                    "canteen-1")["fuels"] if f["fuel"] == "lpg")
    assert D(lpg["amount"]) == D("592.50")  # 5 × 118.50, the corrected delivery only


def test_a_delivery_that_does_not_fit_its_fuel_says_what_to_fix(fuel: Fuel) -> None:
    c = fuel.c
    for change, says in (({"fuel": "coal", "unit": "L", "kg_per_bottle": None}, "kg, t"),
                         ({"kg_per_bottle": None}, "kg_per_bottle"),
                         ({"unit": "kg"}, "leave it out"),
                         ({"fuel": "other", "unit": "kg", "kg_per_bottle": None}, "fuel_name"),
                         ({"day": "2026-11-03"}, "today is 2026-11-02"),
                         ({"payer": "office"}, "not a canteen"),
                         ({"replaces": 999999}, "no delivery #999999")):
        got = c.post("/api/v1/fuel/deliveries", json={**LPG, **change})
        assert got.status_code in (404, 422), (change, got.text)
        assert says in got.json()["detail"], (change, got.text)
    other = c.post("/api/v1/fuel/deliveries", json={**LPG, "fuel": "other", "fuel_name": " 醇基燃料 ", "unit": "kg",
                                                     "kg_per_bottle": None, "day": "2026-09-30"})
    assert other.status_code == 201, other.text
    assert other.json()["fuel_name"] == "醇基燃料"


def test_last_year_before_the_gas_tariff_is_a_dash_and_this_month_is_refused(tmp_path: Path) -> None:
    book = Book.build(CAMPUS, parse_billing(BILLING)[None])
    tariff = book.tariffs["gas"]
    canteen = book.payers["canteen-1"]

    def statement(month: str, payer: str) -> Statement:
        if month < "2026-01":
            raise NoPrice(tariff, dt.date.fromisoformat(month + "-01"))
        return Statement(site="fs", site_name="x", month=month, payer=payer, payer_name="x", payer_type="canteen",
                         timezone="Asia/Shanghai", generated_at=NOW, lines=[], total=D(0))

    with closing(FuelStore(tmp_path / "billing.db")) as store:
        got = account(book, store, "2026-10", [canteen], statement, NOW)
        assert got.canteens[0].last_year.total is None
        with pytest.raises(NoPrice, match="add a version from an earlier date"):
            account(book, store, "2025-10", [canteen], statement, NOW)


def test_xlsx_parsed_back_and_the_same_bytes_twice(fuel: Fuel) -> None:
    c = fuel.c
    got = c.get("/api/v1/fuel/account/2026-10?format=xlsx")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert c.get("/api/v1/fuel/account/2026-10?format=xlsx").content == got.content
    wb = load_workbook(io.BytesIO(got.content))
    try:
        assert wb.sheetnames == ["汇总", "燃料", "送货记录"]
        rows = {r[0]: r for r in wb["汇总"].iter_rows(min_row=3, values_only=True)}
        one, two = rows["一食堂承包方"], rows["二食堂承包方"]
        assert D(str(one[1])) == D("6081.60")
        assert one[2] == 24000
        assert D(str(one[3])) == D("0.25")
        assert one[6:] == ("—", "—", "—")  # last year: no data
        assert D(str(two[6])) == D("1570.00")
        assert two[7] == 5000
        assert D(str(rows["合计"][1])) == D("7896.60")
        fuels = {(r[0], r[1]): D(str(r[4])) for r in wb["燃料"].iter_rows(min_row=3, values_only=True)}
        assert fuels[("一食堂承包方", "液化石油气")] == D("948.00")
        delivered = list(wb["送货记录"].iter_rows(min_row=3, values_only=True))
        assert [r[2] for r in delivered] == ["柴油", "液化石油气", "煤"]
    finally:
        wb.close()
    en = c.get("/api/v1/fuel/account/2026-10?format=xlsx&lang=en")
    wb = load_workbook(io.BytesIO(en.content))
    try:
        assert wb.sheetnames == ["Summary", "Fuels", "Deliveries"]
    finally:
        wb.close()


def test_a_supplier_that_looks_like_a_formula_stays_text(fuel: Fuel) -> None:
    c = fuel.c
    assert c.post("/api/v1/fuel/deliveries", json={**LPG, "day": "2026-11-02", "supplier": "=HYPERLINK(\"x\")"}
                  ).status_code == 201
    wb = load_workbook(io.BytesIO(c.get("/api/v1/fuel/account/2026-11?format=xlsx").content))
    try:
        suppliers = [r[8] for r in wb["送货记录"].iter_rows(min_row=3, values_only=True)]
        assert "'=HYPERLINK(\"x\")" in suppliers
    finally:
        wb.close()


def test_the_receipt_photo_must_be_the_sites_and_is_kept_by_the_sweep(fuel: Fuel) -> None:
    c, records = fuel.c, fuel.c.app.state.records  # type: ignore[attr-defined]
    kept = c.post("/api/v1/photos?site=fs", files=[("photo", ("r.png", png(9, 9, (1, 2, 3)), "image/png"))])
    unused = c.post("/api/v1/photos?site=fs", files=[("photo", ("u.png", png(9, 9, (4, 5, 6)), "image/png"))])
    sha, other = kept.json()[0]["sha256"], unused.json()[0]["sha256"]
    nowhere = c.post("/api/v1/fuel/deliveries", json={**LPG, "photo": "ab" * 32})
    assert nowhere.status_code == 422
    assert "/api/v1/photos" in nowhere.json()["detail"]
    got = c.post("/api/v1/fuel/deliveries", json={**LPG, "day": "2026-10-13", "photo": sha})
    assert got.status_code == 201, got.text
    assert got.json()["photo_url"] == f"/api/v1/files/{sha}"
    # the receipt is shown to whoever may see the canteen, and to nobody else
    assert c.get(f"/api/v1/files/{sha}").content == png(9, 9, (1, 2, 3))
    assert c.get(f"/api/v1/files/{sha}", headers=fuel.north).status_code == 200
    assert c.get(f"/api/v1/files/{sha}", headers=fuel.south).status_code == 404
    fuel.clock.advance(3 * 24 * 3600)  # past [records] upload_grace_h
    try:
        records.sweep_files()
    finally:
        fuel.clock.set(MS)
    assert records.shelf.read(sha)[1] == "png"  # named by a delivery: kept
    with pytest.raises(Exception, match="no file"):
        records.shelf.read(other)  # named by nothing: swept


def test_scope_a_narrowed_token_sees_and_writes_only_its_canteens(fuel: Fuel) -> None:
    c = fuel.c
    # north sees cant-1 (canteen-1's gas meter), south sees cant-2 (canteen-2's meter)
    for token, mine, theirs in ((fuel.north, "canteen-1", "canteen-2"), (fuel.south, "canteen-2", "canteen-1")):
        listed = c.get("/api/v1/fuel/account/2026-10", headers=token).json()
        assert [x["payer"] for x in listed["canteens"]] == [mine]
        assert c.get(f"/api/v1/fuel/account/2026-10?payer={theirs}", headers=token).status_code == 404
        assert c.get(f"/api/v1/fuel/account/2026-10?payer={theirs}&format=xlsx", headers=token).status_code == 404
        assert c.get(f"/api/v1/fuel/deliveries?payer={theirs}", headers=token).status_code == 404
        assert c.get(f"/api/v1/fuel/meals?payer={theirs}", headers=token).status_code == 404
        assert {d["payer"] for d in c.get("/api/v1/fuel/deliveries", headers=token).json()} <= {mine}
        assert {m["payer"] for m in c.get("/api/v1/fuel/meals", headers=token).json()} == {mine}
        theirs_body = {**LPG, "payer": theirs, "fuel": "coal", "unit": "kg", "kg_per_bottle": None}
        refused = c.post("/api/v1/fuel/deliveries", json=theirs_body, headers=token)
        assert refused.status_code == 404
        assert theirs not in refused.text.replace(f"'{theirs}'", "")  # says back only what was asked
        assert c.post("/api/v1/fuel/meals", json={"payer": theirs, "day": "2026-10-09", "meals": 1},
                      headers=token).status_code == 404
        ok = c.post("/api/v1/fuel/meals", json={"payer": mine, "day": "2026-10-30", "meals": 10}, headers=token)
        assert ok.status_code == 201, ok.text
        assert ok.json()["entered_by"] in ("north-op", "south-op")
    # a department is not a canteen; a viewer cannot write
    assert c.get("/api/v1/fuel/account/2026-10?payer=office").status_code == 422
    assert c.post("/api/v1/fuel/meals", json={"payer": "canteen-1", "day": "2026-10-09", "meals": 1},
                  headers=fuel.viewer).status_code == 403


# -- hypothesis at the boundary: any body is 201, 404, 409 or 422 with words, never 500 -------------------------
_junk = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                  st.text(max_size=30), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5),
                                                                                            st.integers(), max_size=2))
_decimal = st.one_of(st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-10, max_value=10**7)
                     .map(str), st.sampled_from(["NaN", "Infinity", "-0", "1e400", "0.0001", "1,5", ""]), _junk)
_day = st.one_of(st.dates(dt.date(1990, 1, 1), dt.date(2030, 12, 31)).map(str), _junk)


def _maybe(key: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(st.just({}), values.map(lambda v: {key: v}))


def _body(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    parts = [_maybe(k, v) for k, v in fields.items()]
    return st.tuples(*parts).map(lambda ds: {k: v for d in ds for k, v in d.items()})


DELIVERIES = _body({
    "payer": st.one_of(st.sampled_from(["canteen-1", "canteen-2", "office", "nobody"]), _junk),
    "day": _day, "fuel": st.one_of(st.sampled_from(["lpg", "diesel", "coal", "other", "wood"]), _junk),
    "fuel_name": st.one_of(st.text(max_size=70), _junk), "quantity": _decimal,
    "unit": st.one_of(st.sampled_from(["kg", "t", "L", "bottle", "m3", "g"]), _junk), "kg_per_bottle": _decimal,
    "unit_price": _decimal, "supplier": st.one_of(st.text(string.printable + "液化气站", max_size=130), _junk),
    "photo": st.one_of(st.sampled_from(["ab" * 32, "x"]), _junk), "note": st.one_of(st.text(max_size=20), _junk),
    "replaces": st.one_of(st.integers(-2, 10**19), _junk)})
MEALS = _body({
    "payer": st.one_of(st.sampled_from(["canteen-1", "canteen-2", "office", "nobody"]), _junk), "day": _day,
    "month": st.one_of(st.sampled_from(["2026-10", "2026-13", "2027-01", "1999-01", "2026-1"]), _junk),
    "meals": st.one_of(st.integers(-5, 2 * 10**7), _junk), "note": st.one_of(st.text(max_size=20), _junk)})


def _words(detail: Any) -> bool:
    if isinstance(detail, str):
        return len(detail) > 10
    return isinstance(detail, list) and all(isinstance(e.get("msg"), str) and e["msg"] for e in detail)


@pytest.mark.parametrize(("path", "bodies"), [("/api/v1/fuel/deliveries", DELIVERIES), ("/api/v1/fuel/meals", MEALS)])
def test_any_body_is_answered_in_words_never_500(fuel: Fuel, path: str, bodies: st.SearchStrategy[Any]) -> None:
    c = fuel.c

    @settings(max_examples=150, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(bodies)
    def post(body: dict[str, Any]) -> None:
        got = c.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"})
        assert got.status_code in (201, 404, 409, 422), (body, got.status_code, got.text[:300])
        if got.status_code != 201:
            assert _words(got.json()["detail"]), (body, got.text[:300])

    post()
