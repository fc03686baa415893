"""DL/T 645-2007 and -1997 frames against hand-computed bytes (the worked examples in METERS.md and the
standard's rules: +33H, BCD least significant byte first, sign bit, CS)."""

from __future__ import annotations

from datetime import datetime

import pytest

from gateway.protocols import dlt645
from gateway.protocols.frames import Garbled, bcd_to_int, checksum, int_to_bcd

ADDR = "000000001234"
WAKE = bytes.fromhex("FE FE FE FE")


def wire(hexes: str) -> bytes:
    """A frame from its bytes up to the last DATA byte: CS and 16 appended."""
    body = bytes.fromhex(hexes)
    return body + bytes([sum(body) % 256, 0x16])


def one(data: bytes) -> dlt645.Frame:
    out = dlt645.Deframer().feed(data)
    assert len(out) == 1, out
    assert isinstance(out[0], dlt645.Frame), out
    return out[0]


def test_bcd_and_checksum() -> None:
    assert bcd_to_int(bytes.fromhex("67 45 23 01")) == 1234567
    assert int_to_bcd(1234567, 4) == bytes.fromhex("67 45 23 01")
    assert checksum(bytes.fromhex("68 34 12 00 00 00 00 68 11 04 33 33 34 33")) == 0xF8
    with pytest.raises(ValueError, match="not BCD"):
        bcd_to_int(b"\x1a")
    with pytest.raises(ValueError, match="does not fit"):
        int_to_bcd(10000, 2)


def test_worked_example_energy_request_and_answer() -> None:
    request = bytes.fromhex("68 34 12 00 00 00 00 68 11 04 33 33 34 33 F8 16")
    assert dlt645.read_request(ADDR, 0x00010000, preamble=0) == request
    assert dlt645.read_request(ADDR, dlt645.FIELDS["energy_kwh"]) == WAKE + request
    answer = bytes.fromhex("FE FE FE FE 68 34 12 00 00 00 00 68 91 08 33 33 34 33 9A 78 56 34 18 16")
    frame = one(answer)
    assert frame == dlt645.Frame(ADDR, 0x91, bytes.fromhex("00 00 01 00 67 45 23 01"))
    assert dlt645.decode_answer(frame, 0x00010000) == 12345.67
    assert dlt645.answer(ADDR, 0x00010000, 12345.67) == answer


def test_answer_arrives_byte_by_byte() -> None:
    answer = dlt645.answer(ADDR, 0x00010000, 12345.67)
    deframer = dlt645.Deframer()
    got = [x for b in answer for x in deframer.feed(bytes([b]))]
    assert got == [dlt645.Frame(ADDR, 0x91, bytes.fromhex("00 00 01 00 67 45 23 01"))]
    assert deframer.pending == 0


@pytest.mark.parametrize(("di", "value_wire", "value"), [
    # value bytes as sent (+33H), least significant first; the top bit of the last byte is the sign
    (0x02030000, "78 56 B4", -1.2345),  # 45 23 81: XX.XXXX kW, sign bit set
    (0x02030000, "78 56 34", 1.2345),
    (0x02020100, "56 84 B3", -5.123),  # 23 51 80: XXX.XXX A, negative
    (0x02060000, "33 B8", -0.5),  # 00 85: X.XXX, negative
    (0x02060000, "33 43", 1.0),  # 00 10
    (0x02010100, "34 55", 220.1),  # 01 22: XXX.X V
])
def test_signed_and_scaled_values_from_hand_made_frames(di: int, value_wire: str, value: float) -> None:
    di_wire = bytes((b + 0x33) & 0xFF for b in di.to_bytes(4, "little")).hex(" ")
    size = 4 + len(bytes.fromhex(value_wire))
    frame = one(wire(f"68 34 12 00 00 00 00 68 91 {size:02X} {di_wire} {value_wire}"))
    assert dlt645.decode_answer(frame, di) == value
    assert dlt645.answer(ADDR, di, value, preamble=0) == wire(f"68 34 12 00 00 00 00 68 91 {size:02X} {di_wire} "
                                                              f"{value_wire}")


def test_no_such_data_is_abnormal_in_words() -> None:
    frame = one(wire("68 34 12 00 00 00 00 68 D1 01 35"))
    with pytest.raises(dlt645.Abnormal) as caught:
        dlt645.decode_answer(frame, 0x02060000)
    assert caught.value.code == 0x02
    assert caught.value.words == "abnormal reply: no such data"
    assert dlt645.abnormal_answer(ADDR, preamble=0) == wire("68 34 12 00 00 00 00 68 D1 01 35")


def test_read_address() -> None:
    assert dlt645.read_address_request(preamble=0) == bytes.fromhex("68 AA AA AA AA AA AA 68 13 00 DF 16")
    request = dlt645.decode_request(one(dlt645.read_address_request()))
    assert request == dlt645.Request("read_address", "AAAAAAAAAAAA")
    answer = dlt645.address_answer(ADDR, preamble=0)
    assert answer == wire("68 34 12 00 00 00 00 68 93 06 67 45 33 33 33 33")
    assert dlt645.decode_address_answer(one(answer)) == ADDR


def test_broadcast_time() -> None:
    at = datetime(2026, 12, 5, 8, 30, 15)
    frame = dlt645.broadcast_time_request(at, preamble=0)
    assert frame == wire("68 99 99 99 99 99 99 68 08 06 48 63 3B 38 45 59")  # 15 30 08 05 12 26, +33H
    assert dlt645.decode_request(one(frame)) == dlt645.Request("time", "999999999999", at=at)


def test_daily_freezes_n_1_to_62() -> None:
    assert dlt645.freeze_time_di(1) == 0x05060001
    assert dlt645.freeze_time_di(62) == 0x0506003E
    assert dlt645.freeze_energy_di(1) == 0x05060101
    assert dlt645.freeze_energy_di(62) == 0x0506013E
    for bad in (0, 63, -1):
        with pytest.raises(ValueError, match="1 … 62"):
            dlt645.freeze_time_di(bad)
    # 上1次日冻结时间 2026-12-05 00:00: mm hh DD MM YY = 00 00 05 12 26, +33H
    frame = one(wire("68 34 12 00 00 00 00 68 91 09 34 33 39 38 33 33 38 45 59"))
    assert dlt645.decode_answer(frame, 0x05060001) == datetime(2026, 12, 5)
    # 上1次日冻结正向有功电能: total 100.00, tariffs 10.00 20.00 30.00 40.00
    values = "33 33 34 33 " "33 43 33 33 " "33 53 33 33 " "33 63 33 33 " "33 73 33 33"  # 00 00 01 00, 00 10 00 00, …
    frame = one(wire(f"68 34 12 00 00 00 00 68 91 18 34 34 39 38 {values}"))
    assert dlt645.decode_answer(frame, 0x05060101) == [100.0, 10.0, 20.0, 30.0, 40.0]
    for n in range(1, 63):
        at = datetime(2026, 1 + n % 12, 1 + n % 28)
        assert dlt645.decode_answer(one(dlt645.answer(ADDR, dlt645.freeze_time_di(n), at)),
                                    dlt645.freeze_time_di(n)) == at
        energies = [n * 1.25, n * 0.25, 0.0, n * 1.0, 0.0]
        assert dlt645.decode_answer(one(dlt645.answer(ADDR, dlt645.freeze_energy_di(n), energies)),
                                    dlt645.freeze_energy_di(n)) == energies


def test_dlt645_1997() -> None:
    assert dlt645.read_request(ADDR, 0x9010, version=1997, preamble=0) == wire("68 34 12 00 00 00 00 68 01 02 43 C3")
    assert dlt645.FIELDS_1997 == {"energy_kwh": 0x9010, "voltage_v": 0xB611, "current_a": 0xB621,
                                  "power_kw": 0xB630, "power_factor": 0xB650}
    cases = [(0x9010, "9A 78 56 34", 12345.67), (0xB611, "53 35", 220.0), (0xB621, "45 38", 5.12),
             (0xB630, "78 56 34", 1.2345), (0xB650, "83 3C", 0.95)]
    for di, value_wire, value in cases:
        di_wire = bytes((b + 0x33) & 0xFF for b in di.to_bytes(2, "little")).hex(" ")
        size = 2 + len(bytes.fromhex(value_wire))
        frame = one(wire(f"68 34 12 00 00 00 00 68 81 {size:02X} {di_wire} {value_wire}"))
        assert dlt645.decode_answer(frame, di, version=1997) == value
        assert dlt645.answer(ADDR, di, value, version=1997, preamble=0) == wire(
            f"68 34 12 00 00 00 00 68 81 {size:02X} {di_wire} {value_wire}")
        request = dlt645.decode_request(one(dlt645.read_request(ADDR, di, version=1997)), version=1997)
        assert request == dlt645.Request("read", ADDR, di)
    with pytest.raises(dlt645.Abnormal, match="no such data"):
        dlt645.decode_answer(one(wire("68 34 12 00 00 00 00 68 C1 01 35")), 0x9010, version=1997)
    with pytest.raises(ValueError, match="no sign"):
        dlt645.answer(ADDR, 0xB630, -1.0, version=1997)


def test_requests_the_meter_sees() -> None:
    for field, di in dlt645.FIELDS.items():
        assert dlt645.decode_request(one(dlt645.read_request(ADDR, di))) == dlt645.Request("read", ADDR, di), field
    other = one(dlt645.encode(dlt645.Frame(ADDR, 0x14, b"\x00" * 12)))
    assert dlt645.decode_request(other).kind == "other"


@pytest.mark.parametrize(("frame", "di", "words"), [
    (dlt645.Frame(ADDR, 0x11, bytes.fromhex("00 00 01 00")), 0x00010000, "echo"),
    (dlt645.Frame(ADDR, 0x91, bytes.fromhex("00 00 02 00 00 00 00 00")), 0x00010000, "we asked for 00010000"),
    (dlt645.Frame(ADDR, 0x91, bytes.fromhex("00 00 01 00 00 00 00")), 0x00010000, "is 4 bytes"),
    (dlt645.Frame(ADDR, 0x91, bytes.fromhex("00 00 01 00 0A 00 00 00")), 0x00010000, "not BCD"),
    (dlt645.Frame(ADDR, 0xB1, bytes.fromhex("00 00 01 00 00 00 00 00")), 0x00010000, "follow-up"),
    (dlt645.Frame(ADDR, 0x93, bytes.fromhex("00 00 01 00 00 00 00 00")), 0x00010000, "does not answer a read"),
    (dlt645.Frame(ADDR, 0xD1, b""), 0x00010000, "expected 1 error byte"),
    (dlt645.Frame(ADDR, 0x91, bytes.fromhex("01 00 06 05 00 00 00 00 00")), 0x05060001, "not a time"),
    (dlt645.Frame(ADDR, 0x91, bytes.fromhex("01 01 06 05 00 00 00")), 0x05060101, "4 bytes per tariff"),
    (dlt645.Frame(ADDR, 0x91, bytes.fromhex("00 00 00 04 00")), 0x04000000, "not one meterwatch reads"),
])
def test_wrong_answers_say_what_is_wrong(frame: dlt645.Frame, di: int, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        dlt645.decode_answer(frame, di)


def test_deframer_skips_noise_and_resyncs_after_a_bad_frame() -> None:
    good = dlt645.answer(ADDR, 0x00010000, 1.5)
    bad = bytearray(good)
    bad[-2] ^= 0xFF  # wrong CS
    out = dlt645.Deframer().feed(b"\x00\x01\x68\x02" + bytes(bad) + b"\x55" + good)
    frames = [x for x in out if isinstance(x, dlt645.Frame)]
    garbled = [x for x in out if isinstance(x, Garbled)]
    assert [dlt645.decode_answer(f, 0x00010000) for f in frames] == [1.5]
    assert any("checksum error" in g.reason for g in garbled)
    assert any("noise" in g.reason for g in garbled)


def test_oversized_length_is_garbled_not_waited_for() -> None:
    out = dlt645.Deframer().feed(bytes.fromhex("68 34 12 00 00 00 00 68 91 F0") + dlt645.answer(ADDR, 0x00010000, 2.0))
    assert any(isinstance(x, Garbled) and "over 200" in x.reason for x in out)
    assert [x for x in out if isinstance(x, dlt645.Frame)] == [one(dlt645.answer(ADDR, 0x00010000, 2.0))]


def test_bad_addresses_are_refused_in_words() -> None:
    with pytest.raises(ValueError, match="12 digits"):
        dlt645.read_request("1234", 0x00010000)
    with pytest.raises(ValueError, match="version"):
        dlt645.read_request(ADDR, 0x00010000, version=2020)
