"""The water-quality board: each role is held to its own limits and says which standard they come from, so the
hot-water tank stored at 65 °C (its rule: at least 60 °C against Legionella) is green, not amber "near limit",
while drinking water keeps GB 5749's limits and its amber band."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.decode import Inbound
from tests.support.alertapp import alert_app


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with alert_app(tmp_path, [], store=True) as (c, _):
        yield c


def _reading(c: TestClient, device: str, values: dict[str, float]) -> None:
    now = time.time()
    service = c.app.state.service  # type: ignore[attr-defined]
    body = {"ts": int(now), "values": values}
    service.pipeline.commit([Inbound(f"campus/yucai/{device}/reading", json.dumps(body).encode(), int(now * 1000))])


def test_each_role_against_its_own_limits(client: TestClient) -> None:
    _reading(client, "bo-tank", {"temperature_c": 65.0})
    _reading(client, "c1-heater", {"temperature_c": 51.0})
    _reading(client, "tb-fountain", {"ph": 8.45, "turbidity_ntu": 0.2, "free_chlorine_mgl": 0.3, "tds_mgl": 180.0,
                                     "temperature_c": 22.0})
    board = {s["device"]: s for s in client.get("/api/v1/water-quality").json()}
    tank = board["bo-tank"]
    assert tank["standing"] == "ok", tank  # 65 °C is how a tank is meant to be stored
    temp = next(v for v in tank["values"] if v["field"] == "temperature_c")
    assert (temp["standing"], temp["limits"][0]["low"]) == ("ok", 60)
    assert board["c1-heater"]["standing"] == "near"  # 51 °C at an outlet held to ≥ 50 °C is close
    # a direct-drinking fountain: pH 8.45 against CJ 94-2005's 6.0–8.5 (near: within 0.25 of 8.5); its chlorine
    # 0.3 against GB 5749's ceiling of 2 only (no floor), TDS 180 against 500, turbidity 0.2 against 0.5
    assert board["tb-fountain"]["standing"] == "near"
    assert tank["standard"] != board["tb-fountain"]["standard"]
    assert "CJ 94-2005" in board["tb-fountain"]["standard"]
    assert "GB 5749" in board["tank-2nd"]["standard"]
    assert "GB 5749" not in tank["standard"]
    assert [board[d]["role"] for d in ("bo-tank", "c1-heater", "tb-fountain", "c1-tap", "tank-2nd")] == [
        "water_heater_storage", "water_heater_outlet", "purified_drinking", "canteen_water", "secondary_supply"]
    en = {s["device"]: s for s in client.get("/api/v1/water-quality", params={"lang": "en"}).json()}
    assert "Legionella" in en["bo-tank"]["standard"]
