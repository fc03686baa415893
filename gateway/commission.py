"""Commissioning a bus (调试): find what answers on it, and read one meter once with every byte shown.

- :func:`scan` finds meters and yields lines ready to paste: one campus-file line per meter found, then the same
  meters as ledger (台账) CSV rows. DL/T 645: the read-address command to AA…AA (works on a bus with one meter:
  several meters answer at once and collide), then a probe of the addresses given; CJ/T 188: a read to the
  broadcast address AA…AA (one meter per bus, likewise); Modbus: a read of one register from each unit id in a
  range, with a short timeout and one try (any answer, an exception reply too, means a unit is there).
- :func:`read_once` reads one meter and returns the bytes both ways (hex) and the decoded values, for the
  electrician with a laptop in the distribution room.

Both open the bus themselves and close it before returning (a generator: when it is exhausted or closed).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Protocol

from campus.contract import Kind
from campus.errors import ConfigError
from campus.model import Bus, Device, Meter
from campus.model import Protocol as MeterProtocol
from gateway import reading
from gateway.bus import FieldBus
from gateway.protocols import cjt188, dlt645, modbus
from gateway.reading import ReadFailed
from ingest.config import MqttSettings

SCAN_TIMEOUT_MS = 200       # a unit-id or address probe: meters answer within 20–500 ms; most within 100 ms
LEDGER_COLUMNS = ("id", "kind", "building", "gateway", "bus", "protocol", "address", "unit", "meter_type")
CJT188_BROADCAST = "A" * 14
DLT645_WILDCARD = "A" * 12


def _hex(data: bytes) -> str:
    return data.hex(" ").upper() if data else "—"


def _line(gateway_id: str, bus: str, kind: str, protocol: str, address: str | None = None,
          unit: int | None = None, meter_type: int | None = None, profile: str | None = None) -> str:
    ident = f"{kind[:4]}-{address or f'u{unit}'}".lower()
    link = f"bus: {bus}, protocol: {protocol}"
    if address is not None:
        link += f', address: "{address}"'
    if unit is not None:
        link += f", unit: {unit}, profile: {profile or 'PROFILE'}"
    if meter_type is not None:
        link += f", meter_type: 0x{meter_type:02X}"
    return f"- {{id: {ident}, kind: {kind}, building: BUILDING, gateway: {gateway_id}, meter: {{{link}}}}}"


def _ledger(rows: list[dict[str, str]]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=LEDGER_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    yield "# 台账 / ledger (CSV):"
    yield from out.getvalue().splitlines()


class _Hit(Protocol):  # scan's hit(): records a meter found, returns its campus-file line
    def __call__(self, kind_: str, address: str | None = None, unit: int | None = None,
                 meter_type: int | None = None) -> str: ...


def scan(gateway_id: str, bus: Bus, protocol: str, *, addresses: Sequence[str] = (),
         units: Sequence[int] = range(1, 248), kind: str | None = None, profile: str | None = None,
         timeout_ms: int = SCAN_TIMEOUT_MS, mqtt: MqttSettings | None = None) -> Iterator[str]:
    """What answers on ``bus`` (a campus ``Bus`` of gateway ``gateway_id``) in ``protocol`` (dlt645, dlt645_1997,
    cjt188, modbus). DL/T 645: read-address, then each of ``addresses``; CJ/T 188: the broadcast address, as a
    ``kind`` meter (water, gas; both when None); Modbus: each of ``units`` (``profile`` goes into the lines).
    Yields comment lines (``# ...``) as it goes, a campus-file line per meter found, then the ledger CSV."""
    try:
        proto = MeterProtocol(protocol)
    except ValueError:
        raise ConfigError(f"protocol {protocol!r}: one of {', '.join(p.value for p in MeterProtocol)}") from None
    field_bus = FieldBus(gateway_id, bus, [], mqtt=mqtt, protocols=[proto])
    found: list[dict[str, str]] = []

    def hit(kind_: str, address: str | None = None, unit: int | None = None,
            meter_type: int | None = None) -> str:
        found.append({"id": f"{kind_[:4]}-{address or f'u{unit}'}".lower(), "kind": kind_, "building": "BUILDING",
                      "gateway": gateway_id, "bus": bus.name, "protocol": proto.value, "address": address or "",
                      "unit": "" if unit is None else str(unit),
                      "meter_type": "" if meter_type is None else f"0x{meter_type:02X}"})
        return _line(gateway_id, bus.name, kind_, proto.value, address, unit, meter_type, profile)

    with field_bus:
        if not field_bus.wait_ready(10):
            yield f"# 未连上代理 / not connected to the broker for {bus.name}"
        if proto in (MeterProtocol.DLT645, MeterProtocol.DLT645_1997):
            yield from _scan_dlt645(field_bus, proto, addresses, timeout_ms, hit)
        elif proto is MeterProtocol.CJT188:
            yield from _scan_cjt188(field_bus, kind, timeout_ms, hit)
        else:
            yield from _scan_modbus(field_bus, units, timeout_ms, hit)
    yield f"# {len(found)} 块表 / meters found on {bus.name}"
    if found:
        yield from _ledger(found)


def _scan_dlt645(field_bus: FieldBus, proto: MeterProtocol, addresses: Sequence[str], timeout_ms: int,
                 hit: _Hit) -> Iterator[str]:
    version = 1997 if proto is MeterProtocol.DLT645_1997 else 2007
    yield "# DL/T 645 读通信地址 / read-address (AA…AA; one meter on the bus)"
    try:
        frame, _ = field_bus.ask(DLT645_WILDCARD, dlt645.read_address_request(), dlt645.Deframer,
                                 reading.dlt645_accept(DLT645_WILDCARD), tries=2, timeout_ms=max(timeout_ms, 500))
        yield hit("electricity", address=frame.address)
    except ReadFailed as exc:
        yield f"# {exc.words}"
    di = (dlt645.FIELDS if version == 2007 else dlt645.FIELDS_1997)["energy_kwh"]
    for address in addresses:
        if not re.fullmatch(r"[0-9]{12}", address):
            yield f"# {address!r}: 不是 12 位表地址 / not a 12-digit address, skipped"
            continue
        try:
            field_bus.ask(address, dlt645.read_request(address, di, version=version), dlt645.Deframer,
                          reading.dlt645_accept(address, di, version), tries=1, timeout_ms=max(timeout_ms, 500))
        except ReadFailed as exc:
            yield f"# {exc.words}"
            continue
        yield hit("electricity", address=address)


def _scan_cjt188(field_bus: FieldBus, kind: str | None, timeout_ms: int, hit: _Hit) -> Iterator[str]:
    kinds = [Kind(kind)] if kind else [Kind.WATER, Kind.GAS]
    for k in kinds:
        meter_type = reading.CJT188_TYPE_BY_KIND[k]
        yield f"# CJ/T 188 广播地址 / broadcast address, meter type 0x{meter_type:02X} ({k.value})"
        try:
            frame, _ = field_bus.ask(CJT188_BROADCAST, cjt188.read_request(meter_type, CJT188_BROADCAST),
                                     cjt188.Deframer, reading.cjt188_accept(CJT188_BROADCAST), tries=2,
                                     timeout_ms=max(timeout_ms, 500))
        except ReadFailed as exc:
            yield f"# {exc.words}"
            continue
        yield hit(k.value, address=frame.address.upper(),
                  meter_type=frame.meter_type if frame.meter_type != meter_type else None)


def _scan_modbus(field_bus: FieldBus, units: Sequence[int], timeout_ms: int, hit: _Hit) -> Iterator[str]:
    yield f"# Modbus 站号扫描 / unit-id scan ({len(units)} units, {timeout_ms} ms each)"
    block = modbus.Block(function=3, start=0, count=1)
    for unit in units:
        try:
            field_bus.fetch_block(unit, block, [], tries=1, timeout_ms=timeout_ms)
        except ReadFailed as exc:
            if exc.code != "abnormal":  # an exception reply is an answer: the unit is there
                continue
        yield hit("electricity", unit=unit)


def _device(gateway_id: str, bus: Bus, meter: str, devices: Sequence[Device], protocol: str | None) -> Device:
    """The device ``meter`` names on ``bus``: by nameplate address or Modbus unit among ``devices``; else a
    stand-in made from the address and ``protocol``."""
    for d in devices:
        m = d.meter
        if m is not None and m.bus == bus.name and (m.address == meter.upper() or str(m.unit) == meter):
            return d
    if protocol is None:
        protocol = "dlt645" if re.fullmatch(r"[0-9]{12}", meter) else "cjt188" if re.fullmatch(
            r"[0-9A-Fa-f]{14}", meter) else ""
    if protocol in ("", MeterProtocol.MODBUS.value):
        raise ConfigError(f"meter {meter!r} is not in the campus file on bus {bus.name}: a Modbus meter needs "
                          "its profile or registers there; DL/T 645 and CJ/T 188 meters are read by address")
    proto = MeterProtocol(protocol)
    kind = Kind.ELECTRICITY if proto in (MeterProtocol.DLT645, MeterProtocol.DLT645_1997) else Kind.WATER
    return Device(id="commissioning", kind=kind, building="commissioning", gateway=gateway_id,
                  meter=Meter(bus=bus.name, protocol=proto, address=meter))


def read_once(gateway_id: str, bus: Bus, meter: str, *, devices: Sequence[Device] = (),
              protocol: str | None = None, mqtt: MqttSettings | None = None,
              zone: str = "Asia/Shanghai") -> str:
    """Read the meter ``meter`` (nameplate address, or Modbus unit id of a device in ``devices``) on ``bus`` once;
    returns every byte sent (→) and received (←) in hex, then the decoded values or the error in words.
    ``protocol`` is needed only for a meter not in ``devices`` that is not DL/T 645-2007 (12 digits) or CJ/T 188
    (14 hex digits)."""
    device = _device(gateway_id, bus, meter, devices, protocol)
    assert device.meter is not None  # noqa: S101 - _device always links one
    lines = [f"总线 bus {bus.name} ({bus.way}) · 表 meter {meter} · {device.meter.protocol.value} · "
             f"{datetime.now(UTC).isoformat(timespec='seconds')}"]
    wire: list[tuple[str, bytes]] = []
    field_bus = FieldBus(gateway_id, bus, [device], mqtt=mqtt, zone=zone)
    field_bus.tap = lambda way, data: wire.append((way, data))
    with field_bus:
        field_bus.wait_ready(10)
        try:
            values = field_bus.read(device).values
            result = [f"{name} = {value:g}" for name, value in values.items()]
        except ReadFailed as exc:
            result = [f"读表失败 / read failed [{exc.code}]: {exc.words}"]
    lines += [f"{way} {_hex(data)}" for way, data in wire]
    lines += result
    counts = {k: v for k, v in field_bus.counters().items() if v}
    lines.append("计数 / counters: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "—"))
    return "\n".join(lines)
