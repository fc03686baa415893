"""The uploader against the data-centre emulator (``simulators/datacentre.py``, a fake: no real provincial data
centre can run here), over real TCP and HTTP on 127.0.0.1. Time is the test's clock (``FrozenClock``): a six-hour
outage is 24 quarter-hour passes of it, never a wall-clock sleep. Numbers by hand: see conftest.py's table."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from simulators.datacentre import DataCentre
from tests.upload.conftest import World, at
from upload.link import AuthRefused, LinkDown, XmlLink

QUARTER_S = 15 * 60
# teach-1 each quarter hour: main meter 10 kWh; its sub-meters 01B00 3 and 01A10 2 (01A00 adds 01A10: 2);
# 未分项 = 10 − 3 − 2 = 5 (not a code, so not sent); water 0.5 m³.
TEACH = {"01000": 10.0, "01B00": 3.0, "01A10": 2.0, "01A00": 2.0, "02000": 0.5}
# canteen-1: its main meter is 01D20 (a canteen's default), which adds to 01D00; gas 1.5 m³ is 03A00 under 03000.
CANTEEN = {"01000": 6.0, "01D20": 6.0, "01D00": 6.0, "03000": 1.5, "03A00": 1.5}


@pytest.mark.parametrize(("protocol", "aes"), [("xml", "off"), ("xml", "data"), ("json", "off")])
def test_a_wrong_key_is_refused_and_the_right_one_accepted(world: World, centre: Callable[..., DataCentre],
                                                           protocol: str, aes: str) -> None:
    dc = centre(protocol=protocol, aes=aes)
    world.clock.set(at("2026-03-02 06:20"))  # 06:00–06:15 has ended and settled (5 min)
    wrong = world.uploader(dc, key="fedcba9876543210", aes_key=dc.key if aes != "off" else None)
    try:
        assert wrong.tick() == 0
        assert "refused" in wrong.last_error
        assert "key" in wrong.last_error
        assert dc.auth[-1] == "fail"
        assert dc.stored == {}
        # a refused key waits the longest retry (600 s), not the first (60 s)
        assert wrong.retry_at_ms == at("2026-03-02 06:30")
    finally:
        wrong.close()
    right = world.uploader(dc)
    try:
        assert right.tick() == 2  # the period's two buildings
        assert dc.auth[-1] == "pass"
        assert sorted(dc.stored) == [("330106D001", "20260302060000"), ("330106D002", "20260302060000")]
        assert dc.stored[("330106D001", "20260302060000")].items == TEACH
        assert dc.stored[("330106D002", "20260302060000")].items == CANTEEN
    finally:
        right.close()


def test_wrong_key_with_everything_encrypted_gets_nothing_through(world: World,
                                                                  centre: Callable[..., DataCentre]) -> None:
    """With aes = all the centre cannot even read a request made with another key: it cuts the connection."""
    dc = centre(aes="all")
    world.clock.set(at("2026-03-02 06:20"))
    up = world.uploader(dc, key="fedcba9876543210")
    try:
        assert up.tick() == 0
        assert dc.stored == {}
        assert up.last_error
    finally:
        up.close()
    dc.aes = "off"  # in the clear, the same wrong key is refused in so many words: id_validate result fail
    link = XmlLink(world.settings(dc, key="wrong-key-123456"), "330106D001", "01")
    try:
        with pytest.raises(AuthRefused, match="refused gateway 01"):
            link.connect()
    finally:
        link.close()


@pytest.mark.parametrize(("protocol", "aes"), [("xml", "off"), ("xml", "all"), ("json", "data")])
def test_six_hours_of_outage_arrive_in_order_once(world: World, centre: Callable[..., DataCentre], protocol: str,
                                                  aes: str) -> None:
    dc = centre(protocol=protocol, aes=aes)
    dc.down()
    up = world.uploader(dc)
    try:
        # 06:05 → 12:05: 24 periods (06:00–12:00) made while the centre is away, each pass failing to send
        for _ in range(24):
            world.clock.advance(QUARTER_S)
            assert up.tick() == 0
        assert "reach" in up.last_error or "closed" in up.last_error
        assert up.outbox.counts() == (0, 48)
        dc.up()
        world.clock.advance(QUARTER_S)  # 12:20: 12:00–12:15 is made too, and everything goes
        assert up.tick() == 50
        assert up.outbox.counts() == (50, 0)
        order = [(a.time, a.building_id) for a in dc.arrivals]
        assert order == sorted(order)              # in period order, then building
        assert len(order) == len(set(order)) == 50  # each once
        assert order[0] == ("20260302060000", "330106D001")
        assert order[-1] == ("20260302120000", "330106D002")
        ops = [a.operation for a in dc.arrivals]
        assert ops[:48] == ["continuous"] * 48
        assert ops[48:] == ["report", "report"]
        assert all(a.items == TEACH for a in dc.arrivals if a.building_id == "330106D001")
    finally:
        up.close()


def test_what_is_sent_is_what_the_api_says(world: World, centre: Callable[..., DataCentre]) -> None:
    """Hour periods against GET /api/v1/consumption's hour buckets, building and device, for 06:00–09:00; and
    quarter-hour periods add up to the same hours."""
    dc = centre()
    world.clock.set(at("2026-03-02 09:05"))
    hourly = world.uploader(dc, period_min=60, backfill_h=3)
    try:
        assert hourly.tick() == 6  # 3 hours × 2 buildings
    finally:
        hourly.close()
    q = {"start": "2026-03-02T06:00:00+08:00", "end": "2026-03-02T09:00:00+08:00", "interval": "hour"}
    with world.api() as api:
        api_building: dict[tuple[str, str], dict[str, float]] = {}
        api_device: dict[tuple[str, str], float] = {}
        for kind, code in (("electricity", "01000"), ("water", "02000"), ("gas", "03000")):
            for by in ("building", "device"):
                body = api.get("/api/v1/consumption", params={**q, "kind": kind, "group_by": by}).json()
                for g in body["groups"]:
                    for h, bucket in enumerate(g["buckets"]):
                        when = f"20260302{6 + h:02d}0000"
                        if by == "building":
                            api_building.setdefault((g["key"], when), {})[code] = bucket["value"]
                        else:
                            api_device[(g["key"], when)] = bucket["value"]
    assert len(api_building) == 6
    assert len(api_device) == 18
    codes = {"teach-1": "330106D001", "canteen-1": "330106D002"}
    for (building, when), totals in api_building.items():
        sent = dc.stored[(codes[building], when)]
        assert {c: sent.items[c] for c in totals} == totals
    # an hour of teach-1 by hand: 4 × 10 kWh = 40; of canteen-1's gas 4 × 1.5 = 6 m³
    assert dc.stored[("330106D001", "20260302070000")].items["01000"] == 40.0
    assert dc.stored[("330106D002", "20260302070000")].items["03000"] == 6.0
    for (device, when), value in api_device.items():
        building = "330106D001" if device.startswith("t1") else "330106D002"
        assert dc.stored[(building, when)].meters[device] == value


def test_quarter_hours_add_up_to_the_api_hours(world: World, centre: Callable[..., DataCentre]) -> None:
    dc = centre()
    world.clock.set(at("2026-03-02 08:05"))
    up = world.uploader(dc, backfill_h=2)
    try:
        assert up.tick() == 16  # 06:00–08:00: 8 quarters × 2 buildings
    finally:
        up.close()
    with world.api() as api:
        body = api.get("/api/v1/consumption", params={"kind": "electricity", "group_by": "building", "interval": "hour",
                                                      "start": "2026-03-02T06:00:00+08:00",
                                                      "end": "2026-03-02T08:00:00+08:00"}).json()
    teach = next(g for g in body["groups"] if g["key"] == "teach-1")
    for h, bucket in enumerate(teach["buckets"]):
        quarters = [dc.stored[("330106D001", f"20260302{6 + h:02d}{m:02d}00")].items["01000"] for m in (0, 15, 30, 45)]
        assert sum(quarters) == bucket["value"] == 40.0


@pytest.mark.parametrize("protocol", ["xml", "json"])
def test_a_crash_between_send_and_ack_sends_again(world: World, centre: Callable[..., DataCentre],
                                                  protocol: str) -> None:
    """The centre stores the first packet and the link dies before its ack; the uploader is then closed as a
    crashed process would leave it and started again over the same outbox. The packet goes again (at least once);
    the centre keeps one copy per building and period (it is the side that deduplicates)."""
    dc = centre(protocol=protocol)
    dc.drop_before_ack = 1
    world.clock.set(at("2026-03-02 06:20"))
    first = world.uploader(dc)
    try:
        assert first.tick() == 0
        assert isinstance(first.last_error, str)
        assert first.last_error
        assert len(dc.arrivals) == 1
        assert first.outbox.counts() == (0, 2)
    finally:
        first.close()
    again = world.uploader(dc)  # a restart: a new uploader, the same outbox; its retry clock starts afresh
    try:
        assert again.tick() == 2
        key = (dc.arrivals[0].building_id, dc.arrivals[0].time)
        assert [(a.building_id, a.time) for a in dc.arrivals].count(key) == 2  # sent twice
        assert len(dc.stored) == 2
        assert again.outbox.counts() == (2, 0)
        assert dc.arrivals[1].operation == "continuous"                       # the resend says it is one
    finally:
        again.close()


def test_heartbeat_while_connected(world: World, centre: Callable[..., DataCentre]) -> None:
    dc = centre()
    world.clock.set(at("2026-03-02 06:20"))
    up = world.uploader(dc, heartbeat_s=5)
    try:
        up.tick()
        link = up.links["yucai"]
        link.last_heard -= 10  # ten seconds of the link's own monotonic time, without waiting for them
        up.tick()
        assert dc.heartbeats == 1
    finally:
        up.close()


def test_link_down_when_nothing_listens(world: World, centre: Callable[..., DataCentre]) -> None:
    dc = centre()
    dc.down()
    link = XmlLink(world.settings(dc), "330106D001", "01")
    with pytest.raises(LinkDown, match="cannot reach"):
        link.connect()


def test_the_framing_and_cipher_settings_agree_end_to_end(world: World, centre: Callable[..., DataCentre]) -> None:
    """Big-endian lengths, no CRC, AES-ECB with zero padding on every packet: the settings a centre's own document
    may ask for, which the 导则 leaves open, carried through to a centre configured the same way."""
    dc = centre(aes="all", aes_mode="ecb", aes_padding="zeros", byte_order="big", crc=False)
    world.clock.set(at("2026-03-02 06:20"))
    up = world.uploader(dc, aes_mode="ecb", aes_padding="zeros", byte_order="big", crc=False)
    try:
        assert up.tick() == 2
        assert dc.stored[("330106D001", "20260302060000")].items == TEACH
    finally:
        up.close()


def test_a_building_without_an_id_is_refused_before_anything_is_sent(world: World,
                                                                     centre: Callable[..., DataCentre]) -> None:
    from campus.errors import ConfigError
    from upload.config import SiteUpload

    dc = centre()
    with pytest.raises(ConfigError, match=r"no building code for canteen-1 \(第一食堂\)"):
        world.uploader(dc, sites={"yucai": SiteUpload(division="330106")})
    with pytest.raises(ConfigError, match="no site 'nowhere'"):
        world.uploader(dc, sites={"nowhere": SiteUpload()})
    assert dc.auth == []
