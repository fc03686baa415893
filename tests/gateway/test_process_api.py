"""The gateway's device list from meterwatch's API (``GET /api/v1/gateways/{id}/campus``) served by a real uvicorn:
ETag and 304, the list kept for a boot without the server, and a running gateway process that picks up a
changed meter without a restart, reopening only that meter's bus."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from campus.model import Bus, Device
from gateway.bus import FieldBus
from gateway.config import GatewaySettings
from gateway.devicelist import ApiDeviceList
from gateway.process import GatewayProcess
from ingest.config import MqttSettings
from tests.support.harness import token_headers
from tests.support.servers import Mosquitto, free_port, serving, wait_for
from tests.support.stack import Stack


def campus_text(tmp: Path) -> str:
    return f"""
site: {{id: s1, name: 测试, timezone: Asia/Shanghai}}
buildings: [{{id: b1, name: 一号楼, department: canteen}}]
zones: [{{id: z1, name: 一区, buildings: [b1]}}]
gateways:
  - id: gw-1
    buses:
      - {{name: rs485-1, serial: "{tmp / 'ttyNOTHERE'}", timeout_ms: 100, retries: 0}}
      - {{name: dtu-2, tcp: "127.0.0.1:{free_port()}", timeout_ms: 100, retries: 0}}
devices:
  - {{id: e1, kind: electricity, building: b1, gateway: gw-1, interval_s: 3600,
     meter: {{bus: rs485-1, protocol: dlt645, address: "000000000001"}}}}
  - {{id: w1, kind: water, building: b1, gateway: gw-1, interval_s: 3600,
     meter: {{bus: dtu-2, protocol: cjt188, address: "12345678901234"}}}}
"""


def test_the_device_list_comes_from_the_api_and_changes_reopen_one_bus(
        tmp_path: Path, app_stack: Callable[..., Stack], mosquitto: Mosquitto) -> None:
    campus = tmp_path / "campus.yaml"
    campus.write_text(campus_text(tmp_path), encoding="utf-8")
    stack = app_stack(campus, name="gateway-api")
    token = token_headers(stack.data)["Authorization"].removeprefix("Bearer ")
    opened: list[str] = []
    lock = threading.Lock()

    def bus_factory(gateway_id: str, bus: Bus, devices: list[Device], **kw: Any) -> FieldBus:
        with lock:
            opened.append(bus.name)
        return FieldBus(gateway_id, bus, devices, **kw)  # the real bus: its reads fail, it is not there

    with serving(stack.app()) as base:
        source = ApiDeviceList(base, token, "gw-1", "s1", cache=tmp_path / "devices.json")
        view = source.fetch()
        assert view is not None
        assert sorted(view.buses()) == ["dtu-2", "rs485-1"]
        assert source.fetch() is None  # If-None-Match: 304
        assert (tmp_path / "devices.json").is_file()

        settings = GatewaySettings.model_validate({
            "data_dir": tmp_path / "gw", "mqtt": MqttSettings(url=mosquitto.url),
            "gateway": {"id": "gw-1", "site": "s1", "server": base, "token": token, "campus_poll_s": 1,
                        "backfill_days": 0}})
        process = GatewayProcess(settings, bus_factory=bus_factory)
        process.start()
        try:
            assert sorted(opened) == ["dtu-2", "rs485-1"]
            stack.ingest.registry.update_device(
                "w1", {"meter": {"bus": "dtu-2", "protocol": "cjt188", "address": "12345678909999"}}, site="s1")
            wait_for(lambda: len(opened) == 3, 15, "the changed bus opened again")
            assert opened[2] == "dtu-2"  # rs485-1, whose meters did not change, stayed open
            assert process.view is not None
            assert [d.meter.address for d in process.view.devices if d.meter] == ["000000000001", "12345678909999"]
        finally:
            process.stop()
