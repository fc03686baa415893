"""The health payload (README "The MQTT contract"): what parse_health takes, what it refuses and in which words,
and that no input makes it do anything else (hypothesis, derandomized: the same payloads every run)."""

from __future__ import annotations

import math
import os

import orjson
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from campus.contract import HEALTH_CODES, MAX_HEALTH_BYTES, Health, Topic, parse_health
from campus.errors import PayloadError
from campus.silence import reason

NOW_S = 1_795_320_000
NOW_MS = NOW_S * 1000
CONTRACT = {"ts": NOW_S, "ok": False, "code": "no_answer",
            "error": "no answer from 000012345678 on rs485-1 after 3 tries", "last_answer": NOW_S - 10_000,
            "success_rate": 0.82, "gateway": "gw-canteen-1", "bus": "rs485-1"}
SEED = int(os.environ.get("METERWATCH_FUZZ_SEED", "0"))
FUZZ = settings(max_examples=3000, deadline=None, derandomize=SEED == 0, database=None,
                suppress_health_check=list(HealthCheck))


def test_the_contract_example_parses_to_milliseconds() -> None:
    h = parse_health(orjson.dumps(CONTRACT), NOW_MS)
    assert h == Health(NOW_MS, False, "no_answer", CONTRACT["error"], (NOW_S - 10_000) * 1000, 0.82,
                       "gw-canteen-1", "rs485-1")
    assert Topic.parse("campus/s1/c1-elec/health", "campus").channel.value == "health"


def test_a_long_error_is_shortened_not_refused() -> None:
    h = parse_health(orjson.dumps({**CONTRACT, "error": "x" * 1000}), NOW_MS)
    assert h.error is not None
    assert h.error.startswith("x" * 300)
    assert h.error.endswith("…(1000 chars)")


def test_nulls_mean_unknown_and_ts_null_is_the_arrival() -> None:
    h = parse_health(b'{"ts": null, "ok": true, "code": null, "error": null, "last_answer": null, '
                     b'"success_rate": null, "gateway": "gw-1", "bus": "b1", "counters": {"frames": 3}}', NOW_MS)
    assert (h.ts, h.ok, h.last_answer, h.success_rate) == (NOW_MS, True, None, None)


@pytest.mark.parametrize(("change", "words"), [
    ({"ok": "false"}, "ok='false': Input should be a valid boolean"),
    ({"ok": False, "code": None}, "with ok=false expected one of no_answer"),
    ({"ok": False, "code": "on_fire"}, "code='on_fire'"),
    ({"ok": True}, "ok=true with a code or error"),
    ({"success_rate": 1.2}, "success_rate=1.2: Input should be less than or equal to 1"),
    ({"success_rate": -0.1}, "greater than or equal to 0"),
    ({"gateway": "gw/1"}, "gateway='gw/1': String should match pattern"),
    ({"bus": ""}, "bus=''"),
    ({"ts": NOW_S + 3600}, "health ts=1795323600: expected epoch seconds between 2000-01-01 and 5 minutes from now"),
    ({"ts": 12}, "check the gateway's clock"),
    ({"ts": "2026-11-22T08:00:00+08:00"}, "ts='2026-11-22T08:00:00+08:00'"),
    ({"last_answer": NOW_S + 60}, "last_answer=1795320060 is after ts=1795320000"),
])
def test_refusals_say_what_to_fix(change: dict[str, object], words: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_health(orjson.dumps({**CONTRACT, **change}), NOW_MS)
    assert words in caught.value.reason


@pytest.mark.parametrize(("payload", "words"), [
    (b"[]", "must be one JSON object"),
    (b"{", "not JSON"),
    (b'{"ok": true}', "gateway: Field required"),
    (b" " * (MAX_HEALTH_BYTES + 1), "over the 4096 byte limit"),
])
def test_what_is_not_a_health_object(payload: bytes, words: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_health(payload, NOW_MS)
    assert words in caught.value.reason


def test_reasons_in_both_languages() -> None:
    assert reason(False, "no_answer", CONTRACT["error"], "zh-CN") == "没有应答：rs485-1 上的 000012345678 三次未应答"
    assert reason(False, "no_answer", CONTRACT["error"], "en") == "no answer from 000012345678 on rs485-1 after 3 tries"
    assert reason(False, "abnormal", "abnormal reply: no such data", "zh-CN") == "异常应答：无此数据"
    assert reason(False, "checksum", "checksum error from 000012345678 on rs485-1 after 1 try", "zh-CN") == \
        "校验和错误：rs485-1 上的 000012345678 一次应答校验和错误"
    assert reason(False, "wrong_address", "only other addresses answered (000012345670) instead of 000012345678 on "
                  "rs485-1 after 3 tries: two meters with one address, or the wrong address in the campus file?",
                  "zh-CN").startswith("应答地址不符：rs485-1 上只有其他地址（000012345670）应答，"
                                      "000012345678 三次未应答")
    assert reason(False, "checksum", "checksum error", "zh-CN") == "校验和错误"
    assert reason(False, "link_down", None, "en") == "link down"
    assert reason(False, "link_down", "port /dev/ttyUSB0 gone", "zh-CN") == "通信链路中断（port /dev/ttyUSB0 gone）"
    assert reason(True, None, None, "zh-CN") == "正常应答"
    for code in HEALTH_CODES:
        assert reason(False, code, None, "zh-CN")
        assert reason(False, code, None, "en")


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                 max_size=4), max_leaves=12)
_field_values = {
    "ts": st.none() | st.integers(-(2**63), 2**63) | st.just(NOW_S) | st.floats() | st.text(max_size=10),
    "ok": st.booleans() | st.none() | st.integers(0, 1) | st.text(max_size=5),
    "code": st.none() | st.sampled_from(HEALTH_CODES) | st.text(max_size=40),
    "error": st.none() | st.text(max_size=400),
    "last_answer": st.none() | st.integers(-(2**63), 2**63) | st.just(NOW_S - 60),
    "success_rate": st.none() | st.floats() | st.integers(-2, 2),
    "gateway": st.text(max_size=70) | st.just("gw-1") | _json,
    "bus": st.text(max_size=70) | st.just("rs485-1") | _json,
}
_docs = st.fixed_dictionaries({}, optional=_field_values)  # type: ignore[arg-type]


def _encoded(doc: object) -> bytes:
    try:
        return orjson.dumps(doc)
    except (orjson.JSONEncodeError, TypeError):
        return repr(doc).encode()


@seed(SEED)
@FUZZ
@given(st.one_of(_docs.map(_encoded), _json.map(_encoded), st.binary(max_size=300)))
def test_any_payload_is_a_health_within_bounds_or_a_refusal_in_words(payload: bytes) -> None:
    try:
        h = parse_health(payload, NOW_MS)
    except PayloadError as exc:
        said = exc.reason
        h = None
    if h is None:
        assert 0 < len(said) < 2000
        return
    assert 946_684_800_000 <= h.ts <= NOW_MS + 300_000
    assert h.last_answer is None or 946_684_800_000 <= h.last_answer <= h.ts
    assert h.success_rate is None or (math.isfinite(h.success_rate) and 0 <= h.success_rate <= 1)
    assert (h.code is None) == h.ok
    assert h.ok or h.code in HEALTH_CODES
    assert h.error is None or (not h.ok and len(h.error) <= 320)
    assert reason(h.ok, h.code, h.error, "zh-CN")
    assert reason(h.ok, h.code, h.error, "en")
