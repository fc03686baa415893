"""Hostile bytes at the bus's boundary, by hypothesis: whatever comes back (garbage, pieces, broken or foreign
frames around the real answer), FieldBus returns the meter's true values or raises ReadFailed in words; never a
wrong value, never another exception. And the DTU stream filter drops heartbeats however the bytes are cut."""

from __future__ import annotations

import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campus.model import Bus, Device, Meter
from gateway.bus import FieldBus, ReadFailed
from gateway.links import _Stream
from gateway.protocols import cjt188, dlt645, modbus

ADDRESS = "000012345678"
WATER = "12345678901234"
TRUTH = {"energy_kwh": 12345.67, "power_kw": -1.2345, "voltage_v": 221.3, "current_a": 5.432, "power_factor": 0.987}
DI_NAME = {di: name for name, di in dlt645.FIELDS.items()}
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class ScriptedLink:
    """A link whose answer to each request is ``script(request)``: chunks handed out one per read, then
    silence (b"" at once, as if the deadline had come)."""

    def __init__(self, script: Any) -> None:
        self.script = script
        self.chunks: list[bytes] = []

    def open(self) -> None: ...
    def close(self) -> None: ...
    def discard(self) -> None:
        self.chunks = []

    def write(self, data: bytes) -> None:
        self.chunks = list(self.script(data))

    def read(self, max_bytes: int, deadline: float) -> bytes:
        return self.chunks.pop(0)[:max_bytes] if self.chunks else b""

    def counters(self) -> dict[str, int]:
        return {}


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False) if data[a:b]]


def _dlt_answer(request: bytes) -> bytes:
    frame = next(f for f in dlt645.Deframer().feed(request) if isinstance(f, dlt645.Frame))
    di = dlt645.decode_request(frame).di
    assert di is not None
    return dlt645.answer(ADDRESS, di, TRUTH[DI_NAME[di]])


def _other_di(request: bytes) -> bytes:
    frame = next(f for f in dlt645.Deframer().feed(request) if isinstance(f, dlt645.Frame))
    di = dlt645.FIELDS["voltage_v"] if dlt645.decode_request(frame).di != dlt645.FIELDS["voltage_v"] \
        else dlt645.FIELDS["energy_kwh"]
    return dlt645.answer(ADDRESS, di, 1.0)


def _bus(script: Any, *, protocol: str = "dlt645") -> tuple[FieldBus, Device]:
    kind = "water" if protocol == "cjt188" else "electricity"
    meter = (Meter(bus="rs485-1", protocol="modbus", unit=3, registers={"energy_kwh": {"address": 0,
                                                                                       "type": "uint32",
                                                                                       "scale": 0.01}})
             if protocol == "modbus" else Meter(bus="rs485-1", protocol=protocol,
                                                address=ADDRESS if kind == "electricity" else WATER))
    device = Device(id="m1", kind=kind, building="b1", gateway="gw-1", meter=meter)
    bus = Bus(name="rs485-1", serial="/dev/null", baud=115200, parity="E", timeout_ms=50, retries=1)
    return FieldBus("gw-1", bus, [device], link=ScriptedLink(script), gap_s=0), device


noise = st.binary(max_size=80)
frames = st.sampled_from(["answer", "foreign", "broken", "echo", "abnormal", "truncated"])


@FUZZ
@given(before=st.lists(st.tuples(frames, noise), max_size=4), honest=st.booleans(), after=noise,
       cuts=st.lists(st.integers(0, 400), max_size=12))
def test_dlt645_never_a_wrong_value(before: list[tuple[str, bytes]], honest: bool, after: bytes,
                                    cuts: list[int]) -> None:
    def script(request: bytes) -> list[bytes]:
        real = _dlt_answer(request)
        stream = b""
        for kind, junk in before:
            stream += junk + {
                "answer": _other_di(request),  # a late answer to another question
                "foreign": dlt645.answer("000087654321", dlt645.FIELDS["energy_kwh"], 2.0),
                "broken": real[:-2] + bytes([(real[-2] + 1) & 0xFF]) + real[-1:],
                "echo": request,
                "abnormal": dlt645.abnormal_answer("000087654321"),
                "truncated": real[: len(real) // 2],
            }[kind]
        stream += (real if honest else b"") + after
        return _cut(stream, cuts)

    field_bus, device = _bus(script)
    try:
        values = field_bus.read(device).values
    except ReadFailed as exc:
        failure = exc
    else:
        failure = None
    if failure is not None:
        assert failure.code in ("no_answer", "checksum", "garbled", "wrong_address", "abnormal")
        assert failure.words
        return
    for name, value in values.items():
        assert value == TRUTH[name]
    assert "energy_kwh" in values


@FUZZ
@given(stream=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=8))
def test_any_bytes_at_all_are_counted_never_read(stream: bytes, cuts: list[int]) -> None:
    for protocol in ("dlt645", "cjt188", "modbus"):
        field_bus, device = _bus(lambda request, s=stream: _cut(s, cuts), protocol=protocol)
        try:
            answer = field_bus.read(device)
        except ReadFailed as exc:
            words = exc.words
            answer = None
        if answer is None:
            assert words
            continue
        # random bytes that happen to be a whole, checked frame of the right address and DI: vanishingly rare,
        # and then it is what the line said; the value is at least a number
        assert all(isinstance(v, float) for v in answer.values.values())


@FUZZ
@given(junk=noise, cuts=st.lists(st.integers(0, 200), max_size=8), volume=st.integers(0, 99_999_999))
def test_cjt188_volume_exact_through_junk(junk: bytes, cuts: list[int], volume: int) -> None:
    def script(request: bytes) -> list[bytes]:
        real = cjt188.answer(0x10, WATER, 0, volume / 100)
        return _cut(junk.replace(b"\x68", b"") + real, cuts)

    field_bus, device = _bus(script, protocol="cjt188")
    assert field_bus.read(device).values == {"volume_m3": volume / 100}


@FUZZ
@given(junk=noise, cuts=st.lists(st.integers(0, 200), max_size=8), raw=st.integers(0, 2**32 - 1),
       echo=st.booleans())
def test_modbus_rtu_register_exact_through_junk(junk: bytes, cuts: list[int], raw: int, echo: bool) -> None:
    def script(request: bytes) -> list[bytes]:
        real = modbus.rtu_answer(3, 3, [raw >> 16, raw & 0xFFFF])
        return _cut((request if echo else b"") + real, cuts)

    field_bus, device = _bus(script, protocol="modbus")
    assert field_bus.read(device).values == {"energy_kwh": raw * 0.01}


@settings(max_examples=500, deadline=None)
@given(pieces=st.lists(st.binary(max_size=20).filter(lambda b: b"HB" not in b and not b.endswith(b"H")),
                       max_size=10),
       beats=st.lists(st.booleans(), max_size=10), cuts=st.lists(st.integers(0, 300), max_size=10))
def test_heartbeats_leave_the_stream_however_it_is_cut(pieces: list[bytes], beats: list[bool],
                                                       cuts: list[int]) -> None:
    stream = b"".join(p + (b"HB" if i < len(beats) and beats[i] else b"") for i, p in enumerate(pieces))
    clean = b"".join(pieces)
    if b"HB" in clean:  # the pieces joined make a heartbeat themselves: that is a heartbeat on the wire
        return
    f = _Stream([b"HB"])
    out = b"".join(f.feed(c) for c in _cut(stream, cuts)) + f.flush()
    assert out == clean


def test_the_scripted_link_spends_no_time() -> None:
    field_bus, device = _bus(lambda request: [])
    t0 = time.monotonic()
    for _ in range(20):
        try:
            field_bus.read(device)
        except ReadFailed:
            pass
    assert time.monotonic() - t0 < 2
