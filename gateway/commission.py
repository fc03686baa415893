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

import contextlib
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


def scan(gateway_id: str, bus: Bus, protocol: str | None = None, *, devices: Sequence[Device] = (),
         addresses: Sequence[str] = (), units: Sequence[int] = range(1, 248), kind: str | None = None,
         profile: str | None = None, timeout_ms: int = SCAN_TIMEOUT_MS,
         mqtt: MqttSettings | None = None) -> Iterator[str]:
    """What answers on ``bus`` (a campus ``Bus`` of gateway ``gateway_id``), in ``protocol`` (dlt645,
    dlt645_1997, cjt188, modbus; default: the protocols of the bus's ``devices``, or dlt645, cjt188 and modbus
    when it has none; modbus only on a modbus_tcp bus).

    DL/T 645: read-address, then a probe of ``addresses`` (default: the addresses of ``devices`` on the bus);
    CJ/T 188: read-address and a read of the broadcast address (as a ``kind`` meter: water, gas; any when
    None); Modbus: each of ``units`` with one try of ``timeout_ms`` (``profile`` goes into the lines).
    Yields comment lines (``# …``) as it goes, a campus-file line per meter found, then the ledger CSV."""
    on_bus = [d for d in devices if d.meter is not None and d.meter.bus == bus.name]
    protocols = _scan_protocols(bus, protocol, on_bus)
    found: list[dict[str, str]] = []
    # a serial line is opened at each protocol's own line settings; any other way once for all (a DTU that dials
    # in would otherwise have to dial again for each protocol)
    shared = None if bus.way == "serial" else FieldBus(gateway_id, bus, [], mqtt=mqtt, protocols=protocols)
    with contextlib.ExitStack() as stack:
        if shared is not None:
            stack.enter_context(shared)
            if not shared.wait_ready(10):
                yield f"# 总线未就绪 / {bus.name} is not ready (no DTU dialled in, or no broker)"
        for proto in protocols:
            field_bus = shared or stack.enter_context(FieldBus(gateway_id, bus, [], mqtt=mqtt, protocols=[proto]))

            def hit(kind_: str, address: str | None = None, unit: int | None = None,
                    meter_type: int | None = None, proto: MeterProtocol = proto) -> str:
                found.append({"id": f"{kind_[:4]}-{address or f'u{unit}'}".lower(), "kind": kind_,
                              "building": "BUILDING", "gateway": gateway_id, "bus": bus.name,
                              "protocol": proto.value, "address": address or "",
                              "unit": "" if unit is None else str(unit),
                              "meter_type": "" if meter_type is None else f"0x{meter_type:02X}"})
                return _line(gateway_id, bus.name, kind_, proto.value, address, unit, meter_type, profile)

            if proto in (MeterProtocol.DLT645, MeterProtocol.DLT645_1997):
                probe = list(addresses) or [d.meter.address for d in on_bus if d.meter is not None
                                            and d.meter.address and d.meter.protocol is proto]
                yield from _scan_dlt645(field_bus, proto, probe, timeout_ms, hit)
            elif proto is MeterProtocol.CJT188:
                yield from _scan_cjt188(field_bus, kind, timeout_ms, hit)
            else:
                yield from _scan_modbus(field_bus, units, timeout_ms, hit)
            if shared is None:
                field_bus.close()  # the next protocol opens the port at its own settings
    yield f"# {len(found)} 块表 / meters found on {bus.name}"
    if found:
        yield from _ledger(found)


def _scan_protocols(bus: Bus, protocol: str | None, on_bus: Sequence[Device]) -> list[MeterProtocol]:
    if protocol is not None:
        try:
            return [MeterProtocol(protocol)]
        except ValueError:
            raise ConfigError(f"protocol {protocol!r}: one of {', '.join(p.value for p in MeterProtocol)}") from None
    if bus.way == "modbus_tcp":
        return [MeterProtocol.MODBUS]
    known = sorted({d.meter.protocol for d in on_bus if d.meter is not None})
    return known or [MeterProtocol.DLT645, MeterProtocol.CJT188, MeterProtocol.MODBUS]


def _scan_dlt645(field_bus: FieldBus, proto: MeterProtocol, addresses: Sequence[str], timeout_ms: int,
                 hit: _Hit) -> Iterator[str]:
    version = 1997 if proto is MeterProtocol.DLT645_1997 else 2007
    seen: set[str] = set()
    if version == 2007:  # read-address is a 2007 command (control 13)
        yield "# DL/T 645 读通信地址 / read-address (AA…AA; one meter on the bus)"
        try:
            frame, _ = field_bus.ask(DLT645_WILDCARD, dlt645.read_address_request(), dlt645.Deframer,
                                     reading.dlt645_accept(DLT645_WILDCARD), tries=2, timeout_ms=max(timeout_ms, 500))
            address = dlt645.decode_address_answer(frame)
        except (ReadFailed, ValueError) as exc:
            yield f"# {getattr(exc, 'words', exc)} (several meters on the bus answer at once: probe addresses)"
        else:
            seen.add(address)
            yield hit("electricity", address=address)
    di = (dlt645.FIELDS if version == 2007 else dlt645.FIELDS_1997)["energy_kwh"]
    if addresses:
        yield f"# DL/T 645 逐个探测 / probing {len(addresses)} addresses"
    for address in addresses:
        if address in seen:
            continue
        if not re.fullmatch(r"[0-9]{12}", address):
            yield f"# {address!r}: 不是 12 位表地址 / not a 12-digit address, skipped"
            continue
        try:
            field_bus.ask(address, dlt645.read_request(address, di, version=version), dlt645.Deframer,
                          reading.dlt645_accept(address, di, version), tries=1, timeout_ms=max(timeout_ms, 500))
        except ReadFailed as exc:
            yield f"# {exc.words}"
            continue
        seen.add(address)
        yield hit("electricity", address=address)


def _scan_cjt188(field_bus: FieldBus, kind: str | None, timeout_ms: int, hit: _Hit) -> Iterator[str]:
    wait = max(timeout_ms, 500)
    yield "# CJ/T 188 读地址 / read address (AA…AA, DI 810A; one meter on the bus)"
    try:
        frame, _ = field_bus.ask(CJT188_BROADCAST, cjt188.read_address_request(), cjt188.Deframer,
                                 reading.cjt188_accept(CJT188_BROADCAST, cjt188.DI_ADDRESS), tries=2, timeout_ms=wait)
        meter_type, address = cjt188.decode_address_answer(frame)
    except (ReadFailed, ValueError) as exc:
        yield f"# {getattr(exc, 'words', exc)}"
    else:
        yield hit(_cjt188_kind(meter_type), address=address, meter_type=_unusual_type(meter_type))
        return
    types = [reading.CJT188_TYPE_BY_KIND[Kind(kind)]] if kind else [cjt188.BROADCAST_TYPE]
    for meter_type in types:
        yield f"# CJ/T 188 广播读表 / read of the broadcast address, meter type {meter_type:02X}"
        try:
            frame, _ = field_bus.ask(CJT188_BROADCAST, cjt188.read_request(meter_type, CJT188_BROADCAST),
                                     cjt188.Deframer, reading.cjt188_accept(CJT188_BROADCAST), tries=2,
                                     timeout_ms=wait)
        except ReadFailed as exc:
            yield f"# {exc.words}"
            continue
        yield hit(_cjt188_kind(frame.meter_type), address=frame.address.upper(),
                  meter_type=_unusual_type(frame.meter_type))


def _cjt188_kind(meter_type: int) -> str:
    """CJ/T 188-2004 table 1: 1x water, 3x gas (20/21 heat and 40 electricity are not read as volumes)."""
    return Kind.GAS.value if 0x30 <= meter_type <= 0x3F else Kind.WATER.value


def _unusual_type(meter_type: int) -> int | None:
    """The type byte when the device's kind alone would not give it (cold water 10, gas 30 are the default)."""
    return None if meter_type in reading.CJT188_TYPE_BY_KIND.values() else meter_type


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
