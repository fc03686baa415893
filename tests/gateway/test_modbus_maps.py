"""Modbus register maps, word orders, read planning and RTU framing, against hand-computed and published
bytes; and the shipped profiles' shape."""

from __future__ import annotations

import struct

import pytest

from gateway.protocols import modbus, profiles
from gateway.protocols.frames import Garbled
from gateway.protocols.modbus import Block, Register


def test_crc16_check_value() -> None:
    assert modbus.crc16(b"123456789") == 0x4B37  # CRC-16/MODBUS catalogue check value


def test_rtu_requests_match_published_frames() -> None:
    assert modbus.rtu_request(1, Block(3, 0, 2)) == bytes.fromhex("01 03 00 00 00 02 C4 0B")
    # "Issued data: 01 04 00 00 00 02 71 CB" (a DIN-rail meter's Modbus manual, attached to Tasmota issue)
    assert modbus.rtu_request(1, Block(4, 0, 2)) == bytes.fromhex("01 04 00 00 00 02 71 CB")


def test_rtu_answer_and_exception_round_trip() -> None:
    block = Block(4, 0x0156, 2)
    raw = modbus.rtu_answer(7, 4, [0x4348, 0x0000])
    assert raw[:3] == bytes.fromhex("07 04 04")
    (frame,) = modbus.RtuDeframer().feed(raw)
    assert isinstance(frame, modbus.RtuFrame)
    assert modbus.decode_rtu_answer(frame, 7, block) == [0x4348, 0x0000]
    (exc,) = modbus.RtuDeframer().feed(modbus.rtu_exception(7, 4, 2))
    assert isinstance(exc, modbus.RtuFrame)
    assert exc.function == 0x84
    with pytest.raises(modbus.ModbusError, match="illegal data address") as caught:
        modbus.decode_rtu_answer(exc, 7, block)
    assert caught.value.code == 2
    with pytest.raises(ValueError, match="unit 7, we asked unit 8"):
        modbus.decode_rtu_answer(frame, 8, block)
    with pytest.raises(ValueError, match="we asked for 3"):
        modbus.decode_rtu_answer(frame, 7, Block(4, 0x0156, 3))
    (request,) = modbus.RtuDeframer(requests=True).feed(modbus.rtu_request(7, block))
    assert isinstance(request, modbus.RtuFrame)
    assert modbus.decode_rtu_request(request) == block


def test_rtu_deframer_skips_noise_and_bad_crc() -> None:
    good = modbus.rtu_answer(1, 3, [1, 2, 3])
    bad = bytearray(good)
    bad[4] ^= 0x01
    out = modbus.RtuDeframer().feed(b"\x00\xff" + bytes(bad) + good)
    frames = [x for x in out if isinstance(x, modbus.RtuFrame)]
    assert frames == [modbus.RtuFrame(1, 3, bytes.fromhex("00 01 00 02 00 03"))]
    assert any(isinstance(x, Garbled) and "CRC error" in x.reason for x in out)


@pytest.mark.parametrize(("type_", "order", "regs", "value"), [
    ("int16", "ABCD", [0xFFFF], -1),
    ("uint16", "ABCD", [0xFFFF], 65535),
    ("int32", "ABCD", [0xFFFF, 0xFFFE], -2),
    ("uint32", "ABCD", [0x0001, 0x0002], 65538),
    ("uint32", "CDAB", [0x0001, 0x0002], 131073),
    ("float32", "ABCD", [0x4348, 0x0000], 200.0),
    ("float32", "CDAB", [0x0000, 0x4348], 200.0),
    ("int64", "ABCD", [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFD], -3),
    ("uint64", "ABCD", [0x0000, 0x0000, 0x0001, 0x0000], 65536),
    ("uint64", "CDAB", [0x0000, 0x0000, 0x0001, 0x0000], 1 << 32),
])
def test_types_and_word_orders(type_: str, order: str, regs: list[int], value: float) -> None:
    reg = Register(10, type_, word_order=order)
    assert modbus.decode({"x": reg}, {Block(3, 10, len(regs)): regs}) == {"x": value}
    assert modbus.encode(reg, value) == regs


def test_scale_and_units() -> None:
    energy = Register(0, "uint32", scale=0.01)
    power_w = Register(2, "int32", scale=0.001)  # W → kW
    values = modbus.decode({"energy_kwh": energy, "power_kw": power_w},
                           {Block(3, 0, 4): [0x0001, 0xE240, 0xFFFF, 0xFC18]})
    assert values == pytest.approx({"energy_kwh": 1234.56, "power_kw": -1.0})
    assert modbus.encode(energy, 1234.56) == [0x0001, 0xE240]


def test_plan_merges_small_gaps_and_splits_functions_and_long_spans() -> None:
    regs = {
        "a": Register(0, "float32"), "b": Register(6, "float32"), "c": Register(100, "uint32"),
        "d": Register(0, "float32", function=4), "e": Register(300, "uint16"), "f": Register(410, "uint16"),
    }
    assert modbus.plan(regs) == [Block(3, 0, 8), Block(3, 100, 2), Block(3, 300, 1), Block(3, 410, 1),
                                 Block(4, 0, 2)]
    assert modbus.plan(regs, max_gap=110) == [Block(3, 0, 102), Block(3, 300, 111), Block(4, 0, 2)]
    assert modbus.plan(regs, max_count=50, max_gap=110) == [Block(3, 0, 8), Block(3, 100, 2), Block(3, 300, 1),
                                                            Block(3, 410, 1), Block(4, 0, 2)]
    blocks = modbus.plan(regs)
    data = {b: [0] * b.count for b in blocks}
    assert set(modbus.decode(regs, data)) == set(regs)


def test_errors_in_words() -> None:
    with pytest.raises(ValueError, match="register type"):
        Register(0, "float16")
    with pytest.raises(ValueError, match="word order"):
        Register(0, "uint32", word_order="DCBA")
    with pytest.raises(ValueError, match="function"):
        Register(0, "uint16", function=1)
    with pytest.raises(ValueError, match="was not read"):
        modbus.decode({"x": Register(5, "uint32")}, {Block(3, 0, 6): [0] * 6})
    nan = list(struct.unpack(">HH", struct.pack(">f", float("nan"))))
    with pytest.raises(ValueError, match="not a number"):
        modbus.decode({"x": Register(0, "float32")}, {Block(3, 0, 2): nan})
    with pytest.raises(ValueError, match="does not fit"):
        modbus.encode(Register(0, "uint16"), 70000)
    with pytest.raises(ValueError, match="unit id"):
        modbus.rtu_request(0, Block(3, 0, 1))


TYPICAL = {"energy_kwh": 12345.67, "power_kw": -3.5, "voltage_v": 229.9, "current_a": 15.25, "power_factor": 0.95}


@pytest.mark.parametrize("name", sorted(profiles.PROFILES))
def test_profiles_name_their_source_and_round_trip(name: str) -> None:
    profile = profiles.PROFILES[name]
    assert profile.name == name
    assert "energy_kwh" in profile.registers
    assert set(profile.registers) <= set(TYPICAL)
    assert len(profile.source) > 40, "a profile says where its map comes from"
    blocks = modbus.plan(profile.registers)
    assert all(b.count <= 120 for b in blocks)
    memory: dict[tuple[int, int], int] = {}
    for field, reg in profile.registers.items():
        value = TYPICAL[field] if reg.type != "uint16" else abs(TYPICAL[field])
        for i, word in enumerate(modbus.encode(reg, value)):
            memory[(reg.function, reg.address + i)] = word
    read = {b: [memory.get((b.function, b.start + i), 0) for i in range(b.count)] for b in blocks}
    decoded = modbus.decode(profile.registers, read)
    for field, value in decoded.items():
        expected = TYPICAL[field] if profile.registers[field].type != "uint16" else abs(TYPICAL[field])
        assert value == pytest.approx(expected, rel=1e-6, abs=0.01), field


def test_at_least_three_profiles() -> None:
    assert len(profiles.PROFILES) >= 3
    with pytest.raises(ValueError, match="energy_kwh"):
        profiles.Profile("x", "m", "m", "s", True, {"power_kw": Register(0, "float32")})
