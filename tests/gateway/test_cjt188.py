"""CJ/T 188 frames against hand-computed and published bytes (METERS.md's worked example; the CJ/T 188-2004
exchanges published at https://cnblogs.com/cj94/p/18534598 and https://www.cnblogs.com/yangykaifa/p/7010777.html)."""

from __future__ import annotations

from datetime import datetime

import pytest

from gateway.protocols import cjt188
from gateway.protocols.frames import Garbled

ADDR = "12345678901234"


def one(data: bytes) -> cjt188.Frame:
    out = cjt188.Deframer().feed(data)
    assert len(out) == 1, out
    assert isinstance(out[0], cjt188.Frame), out
    return out[0]


def test_worked_example_request() -> None:
    body = bytes.fromhex("68 10 34 12 90 78 56 34 12 01 03 1F 90 00")
    expected = bytes.fromhex("FE FE FE FE") + body + bytes([sum(body) % 256, 0x16])
    assert cjt188.read_request(0x10, ADDR) == expected
    assert cjt188.decode_request(one(expected)) == (0x901F, 0)


def test_worked_example_answer_volume_bytes() -> None:
    answer = cjt188.answer(0x10, ADDR, 0, 1234.56)
    frame = one(answer)
    assert frame.data[3:8] == bytes.fromhex("56 34 12 00 2C")
    assert cjt188.decode_answer(frame) == cjt188.Volume(1234.56, 1234.56, None, 0)


def test_published_exchange_901f_high_byte_first() -> None:
    request = bytes.fromhex("FE FE FE FE 68 10 18 02 12 20 20 00 00 01 03 90 1F 00 97 16")
    assert cjt188.read_request(0x10, "00002020120218", di_order="901F") == request
    answer = bytes.fromhex("FE FE FE FE 68 10 18 02 12 20 20 00 00 81 16 90 1F 00 00 02 00 00 2C 00 02 00 00 2C"
                           " 00 00 00 00 00 00 00 00 FF 85 16")
    assert cjt188.decode_answer(one(answer)) == cjt188.Volume(2.0, 2.0, None, 0xFF00)


def test_published_request_1f90_and_an_answer_with_a_time() -> None:
    request = bytes.fromhex("FE FE FE FE 68 10 44 33 22 11 00 33 78 01 03 1F 90 00 80 16")
    frame = one(request)
    assert frame.address == "78330011223344"
    assert cjt188.read_request(0x10, "78330011223344") == request
    # the page's answer has a wrong CS (08; the bytes sum to 13): taken as garbled, then with CS 13
    bad = bytes.fromhex("FE FE FE FE 68 10 44 33 22 11 00 33 78 81 16 1F 90 00 00 77 66 55 2C 00 77 66 55 2C"
                        " 31 01 22 11 05 15 20 21 84 08 16")
    (garbled,) = cjt188.Deframer().feed(bad)
    assert isinstance(garbled, Garbled)
    assert "checksum error" in garbled.reason
    fixed = bad[:-2] + bytes([0x13, 0x16])
    assert cjt188.decode_answer(one(fixed)) == cjt188.Volume(556677.0, 556677.0, datetime(2015, 5, 11, 22, 1, 31),
                                                             0x8421)


def test_read_address_published() -> None:
    assert cjt188.read_address_request() == bytes.fromhex("FE FE FE FE 68 AA AA AA AA AA AA AA AA 03 03 81 0A 00 49 16")
    answer = bytes.fromhex("FE FE FE FE 68 10 18 02 12 20 20 00 00 83 03 81 0A 00 F5 16")
    assert cjt188.decode_address_answer(one(answer)) == (0x10, "00002020120218")
    assert cjt188.address_answer(0x10, "00002020120218") == answer


def test_litres_and_time_round_trip() -> None:
    at = datetime(2026, 12, 5, 8, 30, 15)
    frame = one(cjt188.answer(0x30, ADDR, 7, 12.34567, unit=0x29, at=at, status=0x0140, settlement_m3=10.0))
    assert frame.data[3:8] == bytes.fromhex("67 45 23 01 29")  # 12345.67 L
    assert frame.data[13:20] == bytes.fromhex("15 30 08 05 12 26 20")
    assert cjt188.decode_answer(frame) == cjt188.Volume(12.34567, 10.0, at, 0x0140)
    assert cjt188.UNITS[0x29] == ("L", 0.001)
    assert cjt188.UNITS[0x2C] == ("m³", 1.0)


def test_short_answer_volume_only() -> None:
    frame = cjt188.Frame(0x10, ADDR, 0x81, bytes.fromhex("1F 90 00 56 34 12 00 2C"))
    assert cjt188.decode_answer(frame) == cjt188.Volume(1234.56, None, None, 0)


def test_abnormal_answer() -> None:
    frame = one(cjt188.abnormal_answer(0x10, ADDR, 3, status=0x0004))
    with pytest.raises(cjt188.Abnormal, match="abnormal reply") as caught:
        cjt188.decode_answer(frame)
    assert caught.value.status == 0x0004


@pytest.mark.parametrize(("frame", "words"), [
    (cjt188.Frame(0x10, ADDR, 0x01, bytes.fromhex("1F 90 00")), "echo"),
    (cjt188.Frame(0x20, ADDR, 0x81, bytes(22)), "heat meter"),
    (cjt188.Frame(0x10, ADDR, 0x81, bytes.fromhex("1F 90 00 56 34 12 00 35")), "not a volume"),
    (cjt188.Frame(0x10, ADDR, 0x81, bytes.fromhex("1F 90 00 56 34 12 00 2C 00")), "22 bytes"),
    (cjt188.Frame(0x10, ADDR, 0x81, bytes.fromhex("20 D1 00 56 34 12 00 2C")), "we asked for 901F"),
    (cjt188.Frame(0x10, ADDR, 0x81, bytes.fromhex("1F 90 00 5A 34 12 00 2C")), "not BCD"),
    (cjt188.Frame(0x10, ADDR, 0x83, bytes.fromhex("1F 90 00")), "does not answer a read"),
])
def test_wrong_answers_say_what_is_wrong(frame: cjt188.Frame, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        cjt188.decode_answer(frame)


def test_deframer_resyncs_and_refuses_oversized_length() -> None:
    good = cjt188.answer(0x10, ADDR, 1, 3.5)
    out = cjt188.Deframer().feed(b"\x68\x10" + bytes(8) + b"\xF0" + b"\x99" + good)
    assert any(isinstance(x, Garbled) and "over 100" in x.reason for x in out)
    assert [cjt188.decode_answer(x).volume_m3 for x in out if isinstance(x, cjt188.Frame)] == [3.5]


def test_addresses_are_checked() -> None:
    with pytest.raises(ValueError, match="14 hex digits"):
        cjt188.read_request(0x10, "123")
    with pytest.raises(ValueError, match="di_order"):
        cjt188.read_request(0x10, ADDR, di_order="xx")
