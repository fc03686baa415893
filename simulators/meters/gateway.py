"""Every bus of one gateway of a campus document, with its meters, as hardware a real gateway can reach.

``SimulatedGateway(doc, "gw-canteen-1")`` builds, for each bus of that gateway, the meters whose
``meter.bus`` names it (devices whose ``gateway`` is that gateway), and the line the bus's way needs:

| bus way | what is simulated | where the gateway finds it |
|---|---|---|
| ``serial`` | a pty paced at the bus's baud | a symlink at the ``serial:`` path (pyserial opens it) |
| ``tcp`` | a serial server in transparent TCP-server mode | listening on the ``tcp`` host:port |
| ``listen`` | a DTU that dials in, sends ``register`` then ``heartbeat`` | dialling the ``listen`` host:port |
| ``mqtt`` | a 4G DTU on ``mqtt_url`` (down → bus, bus → up) | the broker |
| ``modbus_tcp`` | a Modbus TCP server (pymodbus) | listening on the ``modbus_tcp`` host:port |

A bus that is not serial gets the line speed of its first meter's protocol convention (DL/T 645-2007 and
CJ/T 188: 2400 8E1; DL/T 645-1997: 1200 8E1; Modbus RTU: 9600 8N1), as the serial side of a DTU is set.
The document is the dict that :func:`simulators.model.load_campus_doc` returns (what the campus file says,
not validated here: give it a file that ``meterwatch`` accepts).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

from simulators.meters.bus import BusMeters
from simulators.meters.cjt188 import Cjt188Meter
from simulators.meters.dlt645 import Dlt645Meter
from simulators.meters.line import Line, bits_per_byte
from simulators.meters.meter import SimMeter
from simulators.meters.modbus import ModbusMeter
from simulators.meters.modbustcp import ModbusTcpLine
from simulators.meters.mqttdtu import MqttDtuLine
from simulators.meters.pty import PtyLine
from simulators.meters.register import DayTypes, TrueRegister
from simulators.meters.sockets import DialInLine, TcpServerLine

# each protocol's line convention (DL/T 645-2007 §4: 2400 8E1 by default; 1997: 1200 8E1; CJ/T 188-2004:
# 2400 8E1; Modbus over serial line V1.02 §2.5.1: 8N1 at the meter's set rate, commonly 9600)
LINE_DEFAULTS: dict[str, tuple[int, str]] = {
    "dlt645": (2400, "E"), "dlt645_1997": (1200, "E"), "cjt188": (2400, "E"), "modbus": (9600, "N"),
}
INCOMER = "incomer"


class SimulatedGateway:
    """The buses and meters of ``gateway_id``. ``now``: the true clock (default: the real one, UTC);
    ``mqtt_url``: the broker of the MQTT DTUs; ``answer_delay_s``: how long a meter takes to answer."""

    def __init__(self, doc: dict[str, Any], gateway_id: str, *, seed: int = 1,
                 now: Callable[[], datetime] | None = None, mqtt_url: str | None = None,
                 answer_delay_s: float = 0.03, heartbeat_s: float = 5.0) -> None:
        gateways = {str(g["id"]): g for g in doc.get("gateways") or []}
        if gateway_id not in gateways:
            raise ValueError(f"the campus document has no gateway {gateway_id!r} (gateways: "
                             f"{', '.join(sorted(gateways)) or 'none'})")
        self.gateway_id = gateway_id
        self.tz = ZoneInfo(doc["site"].get("timezone", "Asia/Shanghai"))
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self.mqtt_url = mqtt_url
        self._day_types = DayTypes(doc.get("calendar"))
        self._buildings = {str(b["id"]): b for b in doc.get("buildings") or []}
        self._devices: list[dict[str, Any]] = list(doc.get("devices") or [])
        self._seed = seed
        self._registers: dict[str, TrueRegister] = {}
        self._meters: dict[str, SimMeter] = {}
        self.lines: dict[str, Line | ModbusTcpLine] = {}
        self.buses: dict[str, BusMeters] = {}
        self._started = False
        for bus in gateways[gateway_id].get("buses") or []:
            name = str(bus["name"])
            meters = [self._meter(d, answer_delay_s) for d in self._devices
                      if d.get("gateway") == gateway_id and (d.get("meter") or {}).get("bus") == name]
            self.buses[name] = BusMeters(name, meters)
            self.lines[name] = self._line(bus, self.buses[name], heartbeat_s)

    # -- building -----------------------------------------------------------------------------------
    def _register(self, device: dict[str, Any]) -> TrueRegister:
        found = self._registers.get(device["id"])
        if found is None:
            parts = None
            if device.get("role") == INCOMER:
                parts = [self._register(d) for d in self._devices if d["kind"] == "electricity"
                         and not d.get("parent") and d.get("role") != INCOMER]
            found = TrueRegister(device, self._buildings, self._day_types, self.tz, seed=self._seed, parts=parts)
            self._registers[device["id"]] = found
        return found

    def _meter(self, device: dict[str, Any], answer_delay_s: float) -> SimMeter:
        protocol = device["meter"]["protocol"]
        common = {"now": self.now, "answer_delay_s": answer_delay_s, "seed": self._seed}
        register = self._register(device)
        meter: SimMeter
        if protocol == "dlt645":
            meter = Dlt645Meter(device, register, version=2007, **common)
        elif protocol == "dlt645_1997":
            meter = Dlt645Meter(device, register, version=1997, **common)
        elif protocol == "cjt188":
            meter = Cjt188Meter(device, register, **common)
        elif protocol == "modbus":
            meter = ModbusMeter(device, register, **common)
        else:
            raise ValueError(f"device {device['id']}: protocol {protocol!r} is not simulated; "
                             "dlt645, dlt645_1997, cjt188 or modbus")
        self._meters[meter.device_id] = meter
        return meter

    def _line(self, bus: dict[str, Any], meters: BusMeters, heartbeat_s: float) -> Line | ModbusTcpLine:
        name = str(bus["name"])
        first = meters.meters[0].protocol if meters.meters else "dlt645"
        baud, parity = LINE_DEFAULTS[first]
        baud = int(bus.get("baud") or baud)
        bits = bits_per_byte(str(bus.get("parity") or parity), int(bus.get("stopbits") or 1))
        if bus.get("serial"):
            return PtyLine(name, meters, baud=baud, bits=bits, link=str(bus["serial"]))
        if bus.get("tcp"):
            return TcpServerLine(name, meters, baud=baud, bits=bits, address=str(bus["tcp"]))
        if bus.get("listen"):
            return DialInLine(name, meters, baud=baud, bits=bits, address=str(bus["listen"]),
                              register=bus.get("register") or bus.get("registration"),
                              heartbeat=bus.get("heartbeat"), heartbeat_s=heartbeat_s)
        if bus.get("mqtt"):
            if not self.mqtt_url:
                raise ValueError(f"bus {name} is a DTU on MQTT: give the broker (mqtt_url, --broker)")
            topics = bus["mqtt"]
            return MqttDtuLine(name, meters, baud=baud, bits=bits, url=self.mqtt_url, up=str(topics["up"]),
                               down=str(topics["down"]), client_id=f"sim-{self.gateway_id}-{name}")
        if bus.get("modbus_tcp"):
            return ModbusTcpLine(name, meters.meters, address=str(bus["modbus_tcp"]))
        raise ValueError(f"bus {name}: give one of serial, tcp, listen, mqtt, modbus_tcp")

    # -- life ---------------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> None:
        """Opens every line; waits (up to ``timeout``) until each MQTT DTU has subscribed its down topic."""
        if self._started:
            return
        self._started = True
        try:
            for line in self.lines.values():
                line.start()
            for line in self.lines.values():
                if isinstance(line, MqttDtuLine) and not line.subscribed.wait(timeout):
                    raise TimeoutError(f"simulated DTU {line.name}: not subscribed to {line.down_topic} on "
                                       f"{self.mqtt_url} within {timeout:.0f} s; is the broker up?")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Closes every line: fds, sockets, threads, MQTT clients. Idempotent."""
        errors = []
        for line in self.lines.values():
            try:
                line.stop()
            except Exception as exc:  # stop the others all the same
                errors.append(exc)
        self._started = False
        if errors:
            raise errors[0]

    def __enter__(self) -> SimulatedGateway:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- what tests and the CLI use -----------------------------------------------------------------
    def meter(self, device_id: str) -> SimMeter:
        try:
            return self._meters[device_id]
        except KeyError:
            raise KeyError(f"no simulated meter {device_id!r} on gateway {self.gateway_id} (meters: "
                           f"{', '.join(sorted(self._meters)) or 'none'})") from None

    @property
    def meters(self) -> dict[str, SimMeter]:
        return dict(self._meters)

    def bus_down(self, name: str, on: bool = True) -> None:
        """A whole bus down (or back up): no byte crosses it, its connections are dropped."""
        if name not in self.lines:
            raise KeyError(f"gateway {self.gateway_id} has no bus {name!r} (buses: {', '.join(self.lines)})")
        self.lines[name].set_down(on)

    def where(self) -> dict[str, str]:
        """Where each bus is, in words: the pty (and its symlink), the port, the broker topics."""
        out = {}
        for name, line in self.lines.items():
            if isinstance(line, PtyLine):
                out[name] = f"{line.link} -> {line.path}" if line.link else line.path
            elif isinstance(line, TcpServerLine):
                out[name] = f"serial server on 127.0.0.1:{line.port}"
            elif isinstance(line, DialInLine):
                out[name] = f"DTU dialling {line.address}"
            elif isinstance(line, MqttDtuLine):
                out[name] = f"MQTT DTU on {self.mqtt_url}: down {line.down_topic}, up {line.up}"
            elif isinstance(line, ModbusTcpLine):
                out[name] = f"Modbus TCP on 127.0.0.1:{line.port}"
        return out
