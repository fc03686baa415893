"""FieldBus on a real pty against a scripted DL/T 645 peer: exact values from hand-made answers, "no such data"
for optional fields, an echoing adapter, a second meter answering, checksum errors and noise — each counted,
never a wrong value; a silent meter costs at most its timeout × tries."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from campus.model import Bus, Device, Meter
from gateway.bus import FieldBus, ReadFailed
from gateway.protocols import dlt645
from tests.gateway.peers import PtyPeer

ADDRESS = "000012345678"
OTHER = "000087654321"
TRUTH = {"energy_kwh": 12345.67, "power_kw": -1.2345, "voltage_v": 221.3, "current_a": 5.432, "power_factor": 0.987}
DI_NAME = {di: name for name, di in dlt645.FIELDS.items()}


def device(address: str = ADDRESS, bus: str = "rs485-1", protocol: str = "dlt645", ident: str = "m1") -> Device:
    return Device(id=ident, kind="electricity", building="b1", gateway="gw-1",
                  meter=Meter(bus=bus, protocol=protocol, address=address))


def honest(values: dict[str, float], missing: tuple[str, ...] = ()) -> Callable[[bytes, Any], bytes]:
    def respond(raw: bytes, frame: Any) -> bytes:
        request = dlt645.decode_request(frame)
        if request.kind == "time" or frame.address != ADDRESS or request.di is None:
            return b""
        name = DI_NAME.get(request.di)
        if name is None or name in missing:
            return dlt645.abnormal_answer(ADDRESS, 0x02)
        return dlt645.answer(ADDRESS, request.di, values[name])
    return respond


class Script:
    """A peer whose behaviour a test sets: ``before`` bytes go on the line ahead of the honest answer."""

    def __init__(self) -> None:
        self.before: Callable[[bytes, Any], bytes] = lambda raw, frame: b""
        self.answer = honest(TRUTH)
        self.silent = False

    def __call__(self, raw: bytes, frame: Any) -> bytes:
        if self.silent:
            return b""
        return self.before(raw, frame) + self.answer(raw, frame)


@pytest.fixture
def wire(tmp_path: Path) -> Iterator[tuple[Script, PtyPeer, FieldBus]]:
    script = Script()
    link = tmp_path / "ttyUSB0"
    bus = Bus(name="rs485-1", serial=str(link), baud=9600, timeout_ms=200, retries=2)
    with PtyPeer(link, script) as peer:
        field_bus = FieldBus("gw-1", bus, [device()])
        with field_bus:
            yield script, peer, field_bus


def test_every_field_exactly_as_the_meter_sent_it(wire: tuple[Script, PtyPeer, FieldBus]) -> None:
    _, peer, field_bus = wire
    answer = field_bus.read(device())
    assert answer.values == TRUTH
    assert abs(answer.at_ms - time.time() * 1000) < 5000
    assert [r for r, _ in answer.raw][0] == bytes.fromhex("FEFEFEFE 68 78 56 34 12 00 00 68 11 04 33 33 34 33 C6 16")
    assert answer.raw[0][1].endswith(bytes.fromhex("16"))
    c = field_bus.counters()
    assert c["frames"] == 5
    assert c["timeouts"] == c["garbled"] == c["checksum"] == c["echo"] == c["wrong_address"] == 0


def test_no_such_data_leaves_an_optional_field_out(wire: tuple[Script, PtyPeer, FieldBus]) -> None:
    script, _, field_bus = wire
    script.answer = honest(TRUTH, missing=("power_factor", "current_a"))
    values = field_bus.read(device()).values
    assert values == {k: v for k, v in TRUTH.items() if k not in ("power_factor", "current_a")}
    script.answer = honest(TRUTH, missing=("energy_kwh",))
    with pytest.raises(ReadFailed, match=r"abnormal reply from 000012345678 on rs485-1: no such data") as exc:
        field_bus.read(device())
    assert exc.value.code == "abnormal"


def test_an_echoing_adapter_is_skipped(wire: tuple[Script, PtyPeer, FieldBus]) -> None:
    script, _, field_bus = wire
    script.before = lambda raw, frame: raw  # the request, byte for byte, ahead of the answer
    assert field_bus.read(device()).values == TRUTH
    assert field_bus.counters()["echo"] == 5


def test_a_stranger_answering_is_counted_never_taken(wire: tuple[Script, PtyPeer, FieldBus]) -> None:
    script, _, field_bus = wire

    def stranger(raw: bytes, frame: Any) -> bytes:
        request = dlt645.decode_request(frame)
        assert request.di is not None
        return dlt645.answer(OTHER, request.di, 0.5)

    script.before = stranger
    assert field_bus.read(device()).values == TRUTH
    assert field_bus.counters()["wrong_address"] == 5
    script.answer = lambda raw, frame: b""
    with pytest.raises(ReadFailed, match=r"only other addresses answered \(000087654321\) instead of "
                                         r"000012345678 on rs485-1 after 3 tries") as exc:
        field_bus.read(device())
    assert exc.value.code == "wrong_address"


def test_noise_before_the_answer_is_counted(wire: tuple[Script, PtyPeer, FieldBus]) -> None:
    script, _, field_bus = wire
    script.before = lambda raw, frame: b"\x00\x55\xaa\x13"
    assert field_bus.read(device()).values == TRUTH
    assert field_bus.counters()["noise"] >= 1


def test_checksum_errors_fail_fast_in_words(wire: tuple[Script, PtyPeer, FieldBus]) -> None:
    script, peer, field_bus = wire
    good = script.answer
    script.answer = lambda raw, frame: (lambda a: a[:-2] + bytes([(a[-2] + 1) & 0xFF]) + a[-1:])(good(raw, frame))
    t0 = time.monotonic()
    with pytest.raises(ReadFailed, match=r"^checksum error from 000012345678 on rs485-1 after 3 tries$") as exc:
        field_bus.read(device())
    assert exc.value.code == "checksum"
    assert time.monotonic() - t0 < 3 * 0.2  # each try ends on the broken answer, not on the timeout
    assert field_bus.counters()["checksum"] == 3
    assert len(peer.requests) == 3


def test_a_silent_meter_costs_its_timeout_times_tries_and_the_next_answers(
        wire: tuple[Script, PtyPeer, FieldBus]) -> None:
    script, _, field_bus = wire
    script.silent = True
    t0 = time.monotonic()
    with pytest.raises(ReadFailed, match=r"^no answer from 000012345678 on rs485-1 after 3 tries$") as exc:
        field_bus.read(device())
    spent = time.monotonic() - t0
    assert exc.value.code == "no_answer"
    assert 3 * 0.2 <= spent < 3 * 0.2 + 0.5, spent  # timeout × tries, plus the gaps and the requests on the wire
    assert field_bus.counters()["timeouts"] == 3
    script.silent = False
    t0 = time.monotonic()
    assert field_bus.read(device()).values == TRUTH
    assert time.monotonic() - t0 < 1


def test_an_optional_field_that_stops_answering_ends_the_read_with_the_energy(
        wire: tuple[Script, PtyPeer, FieldBus]) -> None:
    script, peer, field_bus = wire
    good = script.answer
    script.answer = lambda raw, frame: good(raw, frame) if len(peer.requests) == 1 else b""
    t0 = time.monotonic()
    answer = field_bus.read(device())
    assert answer.values == {"energy_kwh": TRUTH["energy_kwh"]}
    assert time.monotonic() - t0 < 3 * 0.2 + 0.5  # one field's timeout × tries, not four fields'
    assert len(peer.requests) == 4  # energy, then power three times


def test_broadcast_time_goes_out_and_expects_nothing(wire: tuple[Script, PtyPeer, FieldBus]) -> None:
    _, peer, field_bus = wire
    field_bus.sync_time(datetime(2026, 3, 1, 4, 5, 6, tzinfo=UTC))
    deadline = time.monotonic() + 5
    while not peer.requests and time.monotonic() < deadline:
        field_bus.read(device())  # the next transaction, after the broadcast
    request = dlt645.decode_request(peer.requests[0])
    assert request.kind == "time"
    assert request.at == datetime(2026, 3, 1, 12, 5, 6)  # wall time in Asia/Shanghai


def test_a_device_of_another_bus_is_refused(wire: tuple[Script, PtyPeer, FieldBus]) -> None:
    _, _, field_bus = wire
    with pytest.raises(ReadFailed, match="is not on bus rs485-1"):
        field_bus.read(device(bus="rs485-2"))
