from __future__ import annotations

import json

import pytest

from campus.contract import Channel, Kind, Topic, parse_status, parse_ts, split_items, validate_values
from campus.errors import PayloadError

NOW = 1_795_000_000_000


@pytest.mark.parametrize(("raw", "want"), [
    (1_794_999_000, 1_794_999_000_000),            # epoch seconds
    (1_794_999_000.5, 1_794_999_000_500),
    (1_794_999_000_123, 1_794_999_000_123),        # epoch milliseconds
    ("2026-11-18T08:00:00+08:00", 1_794_960_000_000),  # 20,775 days after 1970-01-01, 00:00 UTC
    ("2026-11-18T00:00:00Z", 1_794_960_000_000),
    (None, NOW),                                   # no ts: receive time
])
def test_timestamps(raw: object, want: int) -> None:
    assert parse_ts(raw, NOW) == want  # type: ignore[arg-type]


@pytest.mark.parametrize(("raw", "reason"), [
    ("2026-11-18T08:00:00", "no UTC offset"),
    ("yesterday", "not ISO 8601"),
    (NOW / 1000 + 301, "in the future"),
    (12, "before 2000"),
    (True, "expected epoch"),
])
def test_bad_timestamps(raw: object, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        parse_ts(raw, NOW)  # type: ignore[arg-type]


def test_values_by_kind() -> None:
    assert validate_values(Kind.ELECTRICITY, {"energy_kwh": 1, "power_factor": -0.5}) == {
        "energy_kwh": 1.0, "power_factor": -0.5}
    assert validate_values(Kind.WATER_QUALITY, {"ph": 7}) == {"ph": 7.0}


@pytest.mark.parametrize(("kind", "values", "reason"), [
    (Kind.ELECTRICITY, {"power_kw": 3}, "energy_kwh"),                     # register required
    (Kind.WATER, {"volume_m3": -1}, "volume_m3=-1"),                       # no negative registers
    (Kind.WATER_QUALITY, {"ph": 14.5}, "ph=14.5"),
    (Kind.ELECTRICITY, {"energy_kwh": 1, "power_factor": 1.2}, "power_factor"),
    (Kind.GAS, {"volume_m3": 1, "temperature_c": 20}, "temperature_c"),   # unknown field for the kind
    (Kind.WATER_QUALITY, {}, "at least one"),
    (Kind.WATER, {"volume_m3": float("nan")}, "volume_m3"),
])
def test_values_refused_with_field_named(kind: Kind, values: dict[str, object], reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        validate_values(kind, values)


def test_payload_shapes() -> None:
    assert split_items(b'{"values": {}}') == ([{"values": {}}], False)
    assert len(split_items(json.dumps([{"values": {}}] * 3).encode())[0]) == 3
    for bad, reason in [(b"{", "not JSON"), (b"[]", "non-empty"), (b"3", "object"),
                        (b" " * (256 * 1024 + 1), "over the")]:
        with pytest.raises(PayloadError, match=reason):
            split_items(bad)


def test_topics() -> None:
    assert Topic.parse("campus/yucai/c1-elec/reading", "campus") == Topic("yucai", "c1-elec", Channel.READING)
    assert Topic.parse("a/b/yucai/x/status", "a/b").channel is Channel.STATUS
    for bad in ("campus/yucai/reading", "other/yucai/x/reading", "campus/yucai/x/values", "campus/y u/x/reading"):
        with pytest.raises(PayloadError):
            Topic.parse(bad, "campus")


def test_status() -> None:
    assert parse_status(b"online") is True
    assert parse_status(b" OFFLINE\n") is False
    with pytest.raises(PayloadError):
        parse_status(b"maybe")


@pytest.mark.parametrize(("item", "reason"), [
    ({"values": {"volume_m3": "12.5"}}, "volume_m3='12.5'"),           # a string is not a number
    ({"values": {"volume_m3": True}}, "volume_m3=True"),               # nor is a boolean
    ({"values": {"volume_m3": 1e10}}, "register ceiling"),
    ({"values": {"volume_m3": 1, "flow_m3h": 401}}, "rated capacity"),  # 10 × 40 m³/h
    ({"seq": 2**63, "values": {"volume_m3": 1}}, "seq"),
    ({"seq": 1.5, "values": {"volume_m3": 1}}, "seq"),
    ({"ts": True, "values": {"volume_m3": 1}}, "ts"),
    ({"ts": "9" * 100, "values": {"volume_m3": 1}}, "not ISO 8601"),
    ({"ts": "9999-12-31T23:59:59+14:00", "values": {"volume_m3": 1}}, "in the future"),
])
def test_strict_numbers_and_plausibility(item: dict[str, object], reason: str) -> None:
    from campus.contract import parse_item

    with pytest.raises(PayloadError, match=reason):
        parse_item(Kind.WATER, item, NOW, rated_capacity=40)


def test_plausible_values_pass_and_reasons_stay_short() -> None:
    from campus.contract import Limits, parse_item

    assert parse_item(Kind.WATER, {"seq": 2**63 - 1, "values": {"volume_m3": 9_999_999_999.0, "flow_m3h": 400}},
                      NOW, rated_capacity=40)[1:] == (2**63 - 1, {"volume_m3": 9_999_999_999.0, "flow_m3h": 400.0})
    with pytest.raises(PayloadError, match="ceiling 1000"):
        parse_item(Kind.WATER, {"values": {"volume_m3": 1000}}, NOW, Limits(register_ceiling=1000))
    with pytest.raises(PayloadError) as caught:
        parse_item(Kind.WATER, {"values": {"x" * 10_000: "y" * 100_000}}, NOW)
    assert len(caught.value.reason) < 400
