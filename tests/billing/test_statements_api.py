"""GET /statements/{month} over HTTP on the hand-worked campus (tests/support/billing.py): the JSON carries the
total as a decimal string, each payer's figures are the hand-worked ones, the summary adds them up against the
incomer, filing keeps the bytes while a tariff correction shows as "changes since filing", and the scope holds."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.tokens import TokenStore
from campus.db import DataDir
from campus.scope import Scope
from tests.support.billing import BILLING, CAMPUS_YAML, readings
from tests.support.harness import token_headers
from tests.support.stack import Stack


@pytest.fixture(scope="module")
def stack(app_stack: Callable[..., Stack], tmp_path_factory: pytest.TempPathFactory) -> Stack:
    tmp = tmp_path_factory.mktemp("billing-files")
    (tmp / "campus.yaml").write_text(CAMPUS_YAML, encoding="utf-8")
    (tmp / "billing.yaml").write_text(BILLING, encoding="utf-8")
    s = app_stack(tmp / "campus.yaml", name="billing-api", billing={"file": tmp / "billing.yaml"},
                  report={"refresh_s": 0})
    s.ingest.store.write(readings())
    return s


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(stack.app()) as c:
        c.headers.update(token_headers(stack.data))
        yield c


def ok(r: Any) -> Any:
    assert r.status_code in (200, 201), r.text
    return r.json()


def test_a_payers_statement_is_the_hand_worked_one(client: TestClient) -> None:
    got = ok(client.get("/api/v1/statements/2026-10", params={"payer": "canteen"}))
    assert got["total"] == "21286.80"
    assert got["payer_name"] == "食堂承包方"
    sharp = next(ln for ln in got["lines"] if ln["band"] == "sharp" and ln["start"] == "2026-10-15")
    assert (sharp["use"], sharp["price"], sharp["amount"], sharp["band_name"]) == ("1360.00", "1.4", "1904.00", "尖峰")
    en = ok(client.get("/api/v1/statements/2026-10", params={"payer": "canteen", "lang": "en"}))
    assert {ln["band_name"] for ln in en["lines"]} >= {"sharp peak", "deep valley"}


def test_the_summary_adds_up_against_the_incomer(client: TestClient) -> None:
    got = ok(client.get("/api/v1/statements/2026-10"))
    assert {p["payer"]: p["total"] for p in got["payers"]} == {"canteen": "21286.80", "office": "6651.96",
                                                              "shop": "1942.68"}
    assert (got["payers_total"], got["incomer_total"], got["school_share"]) == ("29881.44", "51952.00", "22070.56")


def test_unknown_payer_and_bad_month_say_what_to_fix(client: TestClient) -> None:
    r = client.get("/api/v1/statements/2026-10", params={"payer": "nobody"})
    assert r.status_code == 404
    assert "nobody" in r.text
    assert client.get("/api/v1/statements/2026-13").status_code == 422


def test_payers_and_tariffs(client: TestClient) -> None:
    payers = {p["id"]: p for p in ok(client.get("/api/v1/payers"))}
    assert [(m["id"], m["share"], m["via"]) for m in payers["shop"]["meters"]] == [("e1", 0.2, "shared")]
    tariffs = {t["id"]: t for t in ok(client.get("/api/v1/tariffs"))}
    assert [v["from"] for v in tariffs["tou"]["versions"]] == ["2026-01-01", "2026-10-15"]


def test_a_filed_statement_keeps_its_bytes_after_a_tariff_correction(client: TestClient, stack: Stack) -> None:
    filed = ok(client.post("/api/v1/statements/2026-10/file", params={"payer": "office"}))
    assert [f["payer"] for f in filed] == ["office"]
    assert {f["format"] for f in filed[0]["files"]} == {"json", "csv", "xlsx", "pdf"}
    before = {f["format"]: f["sha256"] for f in filed[0]["files"]}
    pdf = client.get("/api/v1/statements/filed/2026-10", params={"payer": "office", "format": "pdf"})
    assert hashlib.sha256(pdf.content).hexdigest() == before["pdf"]
    # the school's price corrected: 0.5588 → 0.5600 from October 1st
    path = stack.settings.billing.file
    assert path is not None
    original = path.read_text(encoding="utf-8")
    try:
        path.write_text(original.replace("versions: [{from: 2024-01-01, price: 0.5588}]",
                                         "versions: [{from: 2024-01-01, price: 0.5588}, {from: 2026-10-01, "
                                         "price: 0.5600}]"), encoding="utf-8")
        import os
        os.utime(path, ns=(1, 1))  # a different modification time, whatever the clock's resolution
        now = ok(client.get("/api/v1/statements/2026-10", params={"payer": "office"}))
        assert now["total"] == "6666.24"  # 11904 × 0.5600
        info = ok(client.get("/api/v1/statements/filed/2026-10", params={"payer": "office"}))
        assert {"line": "total", "filed_amount": "6651.96", "now_amount": "6666.24"} in info["changes"]
        again = client.get("/api/v1/statements/filed/2026-10", params={"payer": "office", "format": "pdf"})
        assert hashlib.sha256(again.content).hexdigest() == before["pdf"]
        # a corrected statement is a new version; the first stays
        ok(client.post("/api/v1/statements/2026-10/file", params={"payer": "office"}))
        versions = ok(client.get("/api/v1/statements/filed", params={"payer": "office"}))
        assert [v["version"] for v in versions] == [2, 1]
    finally:
        path.write_text(original, encoding="utf-8")
        os.utime(path, ns=(2, 2))


def test_scope_a_building_token_sees_only_payers_wholly_inside(client: TestClient, stack: Stack) -> None:
    store = TokenStore(DataDir(stack.data).state)
    try:
        token = store.create("canteen-only", "viewer", Scope(sites=frozenset({"s"}), buildings=frozenset({"b2"})))
    finally:
        store.close()
    h = {"Authorization": f"Bearer {token}"}
    assert ok(client.get("/api/v1/statements/2026-10", params={"payer": "canteen"}, headers=h))["total"] == "21286.80"
    assert client.get("/api/v1/statements/2026-10", params={"payer": "office"}, headers=h).status_code == 404
    assert client.get("/api/v1/statements/2026-10", headers=h).status_code == 403
    assert [p["id"] for p in ok(client.get("/api/v1/payers", headers=h))] == ["canteen"]
    assert client.post("/api/v1/statements/2026-10/file", headers=h).status_code == 403


def test_without_a_billing_file_it_says_so(app_stack: Callable[..., Stack], tmp_path: Path) -> None:
    s = app_stack(name="no-billing")
    with TestClient(s.app()) as c:
        r = c.get("/api/v1/statements/2026-10", headers=token_headers(s.data))
    assert r.status_code == 404
    assert "[billing] file" in r.text
