"""A reading by hand reaches the alert engine through a real Mosquitto: the app (ingest and the alert service in
this process, both on the broker) stores it, then hands it on on the meter's reading topic; the engine sees the
replaced meter's new cycle and raises its register anomaly. And the broker files give the server's [mqtt] account
write on manual meters' reading topics, and no broker user to a meter read by hand."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from app.settings import load_settings
from campus.db import DataDir
from campus.model import load_sites
from deploy.brokerfiles import ServiceAccount, render
from ingest.config import BrokerSettings
from records.manual_store import ManualReadingStore
from tests.support.harness import token_headers
from tests.support.manual import body, manual_campus
from tests.support.servers import Mosquitto, wait_for


def test_a_reading_by_hand_reaches_the_alert_engine_through_the_broker(tmp_path: Path, mosquitto: Mosquitto) -> None:
    data = tmp_path / "data"
    data.mkdir()
    settings = load_settings(None, data_dir=data, mqtt={"url": mosquitto.url}, ingest={"worker": "thread"},
                             alerts={"process": False}, report={"refresh_s": 0})
    app = create_app(settings, campus=load_sites(manual_campus(tmp_path)))
    with TestClient(app, headers=token_headers(data, "electrician", "李强")) as c:
        wait_for(lambda: app.state.service.mqtt.connected, 20, "ingest subscribed")
        first = c.post("/api/v1/readings/manual", json=body("m-teach-a-water", 1000.0))
        assert first.status_code == 201, first.text
        again = c.post("/api/v1/readings/manual", json=body("m-teach-a-water", 2.0, replacement=True))
        assert again.status_code == 201, again.text
        store = app.state.alerts.store

        def anomaly() -> bool:
            return store.open_for("yucai", "register-anomaly", "m-teach-a-water") is not None

        wait_for(anomaly, 20, "the alert engine's register anomaly for the replaced meter")
        alert = store.open_for("yucai", "register-anomaly", "m-teach-a-water")
        assert alert is not None
        assert "1000 → 2" in alert.detail
    meta = ManualReadingStore(DataDir(data).records)
    try:
        assert all(r.handed_ms is not None for r in meta.listing("yucai"))
    finally:
        meta.close()


def test_the_broker_lets_the_server_enter_readings_by_hand_and_no_one_else(tmp_path: Path) -> None:
    campus = load_sites(manual_campus(tmp_path))
    assert "m-dorm1-water" not in campus[0].publishers()  # it connects to nothing
    files = render(BrokerSettings(tls_port=0), campus, {"gw-dorm-1": "$7$101$x$y"},
                   [ServiceAccount("mw-ingest", "x", enters_readings=True), ServiceAccount("mw-alerts", "y", True)],
                   "campus", tmp_path)
    grants: dict[str, list[str]] = {}
    user = ""
    for line in files.acl.splitlines():
        if line.startswith("user "):
            user = line.split()[1]
        elif line.startswith("topic write"):
            grants.setdefault(user, []).append(line.split()[2])
    manual = {f"campus/yucai/{d}/reading" for d in ("m-dorm1-water", "m-boiler-elec", "m-teach-a-water",
                                                     "m-office-gas")}
    # the server's account enters readings by hand, asks gateways for a drill's reading and answers drills
    assert set(grants["mw-ingest"]) == manual | {"campus/yucai/+/drill", "campus/yucai/drills/#"}
    assert not manual & set(grants["mw-alerts"])
    assert "campus/yucai/+/drill" not in grants["mw-alerts"]
    assert not manual & set(grants["gw-dorm-1"])
