"""Hypothesis strategies for hostile MQTT input: topics and payloads as an attacker or a buggy gateway
would send them. Shared by the ingest, alert and end-to-end fuzz tests.

Payloads are written by our own JSON writer so that they can hold what ``json.dumps`` will not make:
NaN and Infinity literals, integers beyond 64 bits, duplicate keys, deep nesting, invalid UTF-8.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

from campus.contract import ALL_FIELDS
from campus.model import load_campus
from tests.support.paths import SAMPLE

CAMPUS = load_campus(SAMPLE)
DEVICES = [d.id for d in CAMPUS.devices]
NOW_S = 1_795_000_000


class Raw(str):
    """A JSON fragment written as is."""


def dumps(value: Any) -> bytes:
    """JSON text for ``value``; a list of pairs under :class:`Pairs` keeps duplicate keys."""
    return _dump(value).encode("utf-8", "surrogatepass")


class Pairs(list):  # type: ignore[type-arg]
    """An object as (key, value) pairs: keys may repeat."""


def _dump(v: Any) -> str:
    if isinstance(v, Raw):
        return str(v)
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, Pairs):
        return "{" + ",".join(f"{_dump(str(k))}:{_dump(x)}" for k, x in v) + "}"
    if isinstance(v, dict):
        return "{" + ",".join(f"{_dump(str(k))}:{_dump(x)}" for k, x in v.items()) + "}"
    return "[" + ",".join(_dump(x) for x in v) + "]"


numbers = st.one_of(
    st.integers(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -0.0, 1e10, 9_999_999_999.9, 2**63, 2**63 - 1, 2**64, -1, 1e308, 5e-324, 1e-7]),
    st.sampled_from([Raw("1e400"), Raw("-1e400"), Raw("123456789012345678901234567890"), Raw("1E+2"), Raw("-0")]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=30),
                    st.sampled_from(["12.5", "NaN", "", "\ud800", "2026-11-18T08:00:00+08:00"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=12), inner, max_size=6),
    st.lists(st.tuples(st.sampled_from(["ts", "seq", "values", *ALL_FIELDS]), inner), max_size=6).map(Pairs),
), max_leaves=25)
timestamps = st.one_of(
    st.integers(min_value=NOW_S - 400 * 86_400, max_value=NOW_S), st.integers(), scalars,
    st.sampled_from([NOW_S * 1000, NOW_S + 299, NOW_S + 301, 946_684_799, "2026-11-18T08:00:00",
                     "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "x" * 200]),
)


@st.composite
def items(draw: st.DrawFn) -> Any:
    """A reading object close to the contract, with hostile values where it counts."""
    fields = draw(st.lists(st.sampled_from(ALL_FIELDS), max_size=4, unique=True))
    values: Any = {f: draw(st.one_of(numbers, st.floats(min_value=0, max_value=1e6), scalars)) for f in fields}
    if draw(st.booleans()):
        values = Pairs(list(values.items()) * 2)  # duplicate keys
    item: dict[str, Any] = {"values": draw(st.one_of(st.just(values), json_values))}
    if draw(st.booleans()):
        item["ts"] = draw(timestamps)
    if draw(st.booleans()):
        item["seq"] = draw(st.one_of(st.integers(min_value=0, max_value=2**64), scalars))
    return item


def _deep(depth: int, opener: str = "[", closer: str = "]") -> bytes:
    return (opener * depth + closer * depth).encode()


payloads = st.one_of(
    items().map(dumps),
    st.lists(items(), min_size=1, max_size=20).map(dumps),
    json_values.map(dumps),
    st.binary(max_size=300),                                                     # not JSON, not UTF-8
    st.builds(lambda head, tail: head + tail, items().map(dumps), st.binary(min_size=1, max_size=8)),
    st.integers(min_value=2, max_value=3000).map(_deep),                         # deep nesting
    st.integers(min_value=2, max_value=600).map(lambda n: b'[{"values":' * n + b"1" + b"}]" * n),
    st.integers(min_value=10_001, max_value=12_000).map(lambda n: b"[" + b",".join([b"{}"] * n) + b"]"),
    st.sampled_from([b"", b"null", b"[]", b"{}", b"\xef\xbb\xbf{}", b'{"values":{"ph":7}}\x00', b"online",
                     b"offline", b'"\\ud800"', b"[" + b"1," * 5000 + b"1]"]),
)
valid_topics = st.builds(lambda d, ch: f"campus/yucai/{d}/{ch}", st.sampled_from(DEVICES),
                         st.sampled_from(["reading", "reading", "reading", "status", "health"]))
topics = st.one_of(
    valid_topics, valid_topics, valid_topics,
    st.builds(lambda d: f"campus/other-site/{d}/reading", st.sampled_from(DEVICES)),
    st.builds(lambda t: f"campus/yucai/{t}/reading", st.text(max_size=70)),
    st.text(max_size=80),
)
messages = st.tuples(topics, payloads)


_RANGES = {"energy_kwh": (0, 1e9), "power_kw": (-2000, 2000), "voltage_v": (0, 100_000), "current_a": (0, 100_000),
           "power_factor": (-1, 1), "volume_m3": (0, 1e9), "flow_m3h": (0, 100), "ph": (0, 14),
           "turbidity_ntu": (0, 4000), "free_chlorine_mgl": (0, 100), "conductivity_uscm": (0, 200_000),
           "tds_mgl": (0, 100_000), "temperature_c": (-50, 150)}
_KIND_FIELDS = {"electricity": ["energy_kwh", "power_kw", "voltage_v", "current_a", "power_factor"],
                "water": ["volume_m3", "flow_m3h"], "gas": ["volume_m3", "flow_m3h"],
                "water_quality": ["ph", "turbidity_ntu", "free_chlorine_mgl", "conductivity_uscm", "tds_mgl",
                                  "temperature_c"]}


@st.composite
def valid_messages(draw: st.DrawFn) -> tuple[str, bytes]:
    """A reading that passes validation with values anywhere in their physical range and times anywhere in
    the accepted window: what reaches the rule engine."""
    device = draw(st.sampled_from(CAMPUS.devices))
    fields = _KIND_FIELDS[device.kind.value]
    chosen = draw(st.lists(st.sampled_from(fields), min_size=1, max_size=len(fields), unique=True))
    if fields[0] in ("energy_kwh", "volume_m3") and fields[0] not in chosen:
        chosen.append(fields[0])
    values = {f: draw(st.floats(*_RANGES[f])) for f in chosen}
    ts = draw(st.integers(min_value=946_684_800, max_value=NOW_S))
    return f"campus/yucai/{device.id}/reading", dumps({"ts": ts, "values": values})


@st.composite
def valid_health(draw: st.DrawFn) -> tuple[str, bytes]:
    """A meter's health as its gateway publishes it (README "Meter health"), either outcome."""
    device = draw(st.sampled_from(CAMPUS.devices))
    ok = draw(st.booleans())
    ts = draw(st.integers(min_value=946_684_800, max_value=NOW_S))
    return f"campus/yucai/{device.id}/health", dumps({
        "ts": ts, "ok": ok, "code": None if ok else draw(st.sampled_from(["no_answer", "checksum", "link_down"])),
        "error": None if ok else draw(st.text(max_size=80)),
        "last_answer": draw(st.none() | st.integers(min_value=946_684_800, max_value=ts)),
        "success_rate": draw(st.none() | st.floats(0, 1)), "gateway": device.gateway or device.id,
        "bus": draw(st.sampled_from(["rs485-1", "dtu-2"]))})


engine_messages = st.one_of(valid_messages(), valid_messages(), valid_messages(), messages, valid_health(),
                            st.tuples(st.builds(lambda d: f"campus/yucai/{d}/status", st.sampled_from(DEVICES)),
                                      st.sampled_from([b"online", b"offline", b"???"])))
