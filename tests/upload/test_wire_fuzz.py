"""Hostile bytes against the upload protocol's readers: the frame reader, the XML reader, and the two together
with AES. Every input gives messages or the documented error (FrameError, WireError) saying what is wrong, never
another exception; the frame reader never holds more than its bound; a document type declaration (and with it
any entity: XXE, billion laughs) is refused before anything is expanded.

Examples per run: 300 for each property below (150 for the round trip; about 2,000 inputs), plus the named
attacks."""

from __future__ import annotations

import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.cost import cpu_clock
from upload.config import UploadSettings
from upload.crypto import Aes
from upload.frame import FrameError, FrameReader, Framing, crc16
from upload.link import XmlLink, seal, unseal
from upload.packet import Item, Meter, Packet
from upload.wire import Message, WireError, from_xml

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
SMALL = Framing("little", True, 4096)
AES = Aes(b"0123456789abcdef")

def says(exc: Exception) -> None:
    """A refusal says what is wrong (a message, not an empty error)."""
    assert str(exc).strip()


texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
numbers = st.floats(allow_nan=False, allow_infinity=False, width=64)
packets = st.builds(
    Packet, st.just(""), st.just(""), texts, texts, st.just(0), st.sampled_from([900_000, 3_600_000]),
    st.text("0123456789", min_size=14, max_size=14),
    st.lists(st.builds(Item, texts, texts, numbers), max_size=5).map(tuple),
    st.lists(st.builds(Meter, texts, texts, texts, texts, numbers, numbers), max_size=5).map(tuple))


@FUZZ
@given(st.binary(max_size=6000), st.lists(st.integers(1, 600), max_size=20))
def test_frame_reader_on_any_bytes(data: bytes, cuts: list[int]) -> None:
    reader = FrameReader(SMALL)
    at = 0
    try:
        for cut in [*cuts, len(data)]:
            for number, payload in reader.feed(data[at:at + cut]):
                assert 0 <= number < 2**32
                assert len(payload) <= SMALL.max_bytes
            at += cut
            assert len(reader._buf) <= SMALL.max_bytes  # never more than one frame's bound held
    except FrameError as exc:
        says(exc)


@FUZZ
@given(st.lists(st.binary(max_size=1000), min_size=1, max_size=5), st.integers(1, 64),
       st.sampled_from(["little", "big"]), st.booleans())
def test_frames_split_anywhere_come_out_whole(payloads: list[bytes], piece: int, order: str, crc: bool) -> None:
    framing = Framing(order, crc, 4096)
    stream = b"".join(framing.encode(k, p) for k, p in enumerate(payloads))
    reader = FrameReader(framing)
    out = [f for i in range(0, len(stream), piece) for f in reader.feed(stream[i:i + piece])]
    assert out == list(enumerate(payloads))


@FUZZ
@given(st.binary(min_size=1, max_size=200), st.integers(0, 10**6))
def test_a_flipped_bit_is_refused(payload: bytes, where: int) -> None:
    """The CRC covers head to payload, the tail is checked where the length says it is."""
    frame = bytearray(SMALL.encode(1, payload))
    i = where % len(frame)
    frame[i] ^= 1 << (where % 8)
    try:
        got = FrameReader(SMALL).feed(bytes(frame))
    except FrameError:
        return
    assert got == []  # a longer length: still waiting for bytes; never a frame with the flipped bit in it


declared = st.builds(lambda enc, body: f'<?xml version="1.0" encoding="{enc}"?>'.encode() + body,
                     st.sampled_from(["utf-8", "UTF-16", "gbk", "latin-1", "ascii", "no-such", "utf-7", ""])
                     | st.text("abcdefghijklmnopqrstuvwxyz0123456789-_", max_size=12), st.binary(max_size=500))


@FUZZ
@given(st.binary(max_size=3000) | declared)
def test_xml_reader_on_any_bytes(data: bytes) -> None:
    try:
        from_xml(data)
    except WireError as exc:
        says(exc)


@FUZZ
@given(st.recursive(st.text(max_size=20), lambda inner: st.tuples(st.sampled_from(
    ["root", "common", "data", "meter", "function", "energy_items", "energy_item", "time", "heart_beat"]),
    st.lists(inner, max_size=4)), max_leaves=30))
def test_xml_reader_on_element_soup(tree: object) -> None:
    def render(node: object) -> str:
        if isinstance(node, str):
            return node.replace("<", "&lt;").replace("&", "&amp;")
        tag, children = node  # type: ignore[misc]
        return f'<{tag} operation="report" code="01000" id="x">{"".join(render(c) for c in children)}</{tag}>'
    try:
        from_xml(render(tree).encode("utf-8", "surrogatepass"))
    except WireError as exc:
        says(exc)


def test_the_crc_is_crc16_modbus() -> None:
    assert crc16(b"123456789") == 0x4B37  # the CRC catalogue's check value for CRC-16/MODBUS


@settings(FUZZ, max_examples=150)
@given(packets, st.sampled_from(["report", "continuous"]), st.sampled_from(["off", "data", "all"]))
def test_packets_round_trip_through_frame_aes_and_xml(packet: Packet, op: str, aes: str) -> None:
    cfg = UploadSettings(aes=aes, key="0123456789abcdef")
    m = Message("data", op, packet.building_id.strip(), packet.gateway_id.strip(), {"sequence": "7"}, packet)
    sealed = seal(cfg, AES if aes != "off" else None, m)
    assert sealed.startswith(b"<?xml") == (aes == "off")
    [(n, payload)] = FrameReader(Framing(max_bytes=1 << 20)).feed(Framing(max_bytes=1 << 20).encode(3, sealed))
    back = unseal(AES if aes != "off" else None, payload)
    assert n == 3
    assert back.packet is not None
    assert back.packet.items == packet.items  # values exactly as sent (repr round-trips)
    assert [mt.value for mt in back.packet.meters] == [mt.value for mt in packet.meters]


@FUZZ
@given(st.binary(max_size=500))
def test_encrypted_garbage_is_a_wire_error(data: bytes) -> None:
    try:
        unseal(AES, b"\x00" + data)
    except WireError as exc:
        says(exc)


@pytest.mark.parametrize("attack", [
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><root>&x;</root>',
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]><root>&d;</root>',
    b'<!DOCTYPE root SYSTEM "http://127.0.0.1:9/x.dtd"><root/>',
    b"<root>" * 50 + b"</root>" * 50,
    b"<root>&undefined;</root>",
    b'<?xml version="1.0" encoding="no-such-encoding"?><root/>',
])
def test_entities_and_depth_are_refused_at_once(attack: bytes) -> None:
    with cpu_clock() as spent, pytest.raises(WireError):
        from_xml(attack)
    assert spent() < 0.5  # bounded: nothing was expanded (a fetch is refused by the parser, see above)


def test_a_frame_past_the_bound_is_refused_from_its_header() -> None:
    header = b"\x68\x68\x16\x16" + (10**6).to_bytes(4, "little")
    with pytest.raises(FrameError, match="over the limit of 4096"):
        FrameReader(SMALL).feed(header)


def test_two_frames_in_one_read_are_both_kept() -> None:
    """A centre that answers the sequence and a time notify in one TCP segment: the second is not lost."""
    cfg = UploadSettings(key="0123456789abcdef", timeout_s=5)
    link = XmlLink(cfg, "330106D001", "01")
    ours, theirs = socket.socketpair()
    try:
        link.sock = ours
        framing = Framing(cfg.byte_order, cfg.crc, cfg.max_frame_bytes)
        both = b"".join(framing.encode(i, seal(cfg, None, m)) for i, m in enumerate([
            Message("id_validate", "sequence", "330106D001", "01", {"sequence": "42"}),
            Message("heart_beat", "time", "330106D001", "01", {"time": "20261206010000"})], start=1))
        theirs.sendall(both)
        assert link._await("id_validate", "sequence").fields["sequence"] == "42"
        assert link._await("heart_beat", "time").fields["time"] == "20261206010000"
    finally:
        link.close()
        theirs.close()
