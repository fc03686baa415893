"""#21: a gateway's batch lost its valid readings when one item held a number beyond a double (``1e400``) or a lone
surrogate escape (``"\\ud800"``): orjson refused the whole document, so the whole message became a dead letter,
and its replay failed the same way for ever. Both are valid JSON by RFC 8259's grammar: such a document is read
again by Python's parser and only the items holding one are refused, each with its reason."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion

from campus.contract import Kind, Unreadable, split_items
from campus.errors import PayloadError
from ingest.config import IngestSettings, StoreSettings
from ingest.deadletters import Refusal
from ingest.mqtt import shut
from ingest.pipeline import Pipeline
from tests.support.fuzz import CAMPUS, NOW_S
from tests.support.harness import make_service, start_connected
from tests.support.servers import Mosquitto, wait_for

TOPIC = "campus/yucai/c1-water/reading"


class BeyondDouble(str):
    """A number written as is: ``1e400`` or ``-1e400``."""


SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)


def _item(ts: int, volume: str) -> str:
    return f'{{"ts":{ts},"values":{{"volume_m3":{volume}}}}}'


def _holds_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, dict):
        return any(_holds_surrogate(k) or _holds_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_surrogate(v) for v in value)
    return False


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
              st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8),
              st.builds(lambda a, s, b: a + s + b, st.text(max_size=3), SURROGATES, st.text(max_size=3))),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.text(max_size=6), SURROGATES), inner, max_size=4)),
    max_leaves=12)


@settings(max_examples=500, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.one_of(json_values, st.sampled_from([BeyondDouble("1e400"), BeyondDouble("-1e400")])),
                min_size=1, max_size=8))
def test_only_the_items_holding_what_no_double_or_text_can_hold_are_unreadable(items: list[Any]) -> None:
    """Any array of JSON values, some holding lone surrogates (escaped, as json.dumps writes them) or numbers
    beyond a double: the parser keeps every item, in order; an item holding one is Unreadable, every other item
    is exactly what was sent."""
    text = "[" + ",".join(str(v) if isinstance(v, BeyondDouble) else json.dumps(v) for v in items) + "]"
    parsed, batch = split_items(text.encode())
    assert batch
    assert len(parsed) == len(items)
    for sent, got in zip(items, parsed, strict=True):
        if isinstance(sent, BeyondDouble):
            assert got == Unreadable("a number is beyond a double's range (like 1e400): send finite numbers")
        elif _holds_surrogate(sent):
            assert isinstance(got, Unreadable)
            assert "lone surrogate" in got.reason
        else:
            assert got == sent


@pytest.mark.parametrize(("payload", "reason"), [
    (b'{"values":{"volume_m3":1e400}}', "values.volume_m3 is beyond a double"),
    (b'{"ts":"\\udc00","values":{"volume_m3":1}}', "at ts holds a lone surrogate"),
])
def test_a_single_object_is_one_unreadable_item(payload: bytes, reason: str) -> None:
    items, batch = split_items(payload)
    assert not batch
    assert isinstance(items[0], Unreadable)
    assert reason in items[0].reason


@pytest.mark.parametrize("payload", [b"[NaN]", b'[{"values":{"volume_m3":Infinity}}]', b"[1e400",
                                     b'["\xed\xa0\x80"]', b"[" * 5000 + b"]" * 5000, b"\xff[]"])
def test_what_is_not_json_stays_refused_whole(payload: bytes) -> None:
    with pytest.raises(PayloadError, match="not JSON"):
        split_items(payload)


@pytest.mark.integration
def test_a_batch_keeps_its_valid_readings_beside_1e400_and_a_lone_surrogate(tmp_path: Path,
                                                                          mosquitto: Mosquitto) -> None:
    start = (int(time.time()) - 3600) // 60 * 60
    stamps = [start + 60 * i for i in range(5)]
    payload = ("[" + ",".join([_item(stamps[0], "10.5"), _item(stamps[1], "1e400"), _item(stamps[2], "10.7"),
                               f'{{"ts":{stamps[3]},"values":{{"volume_m3":10.8}},"note":"\\ud800"}}',
                               _item(stamps[4], "10.9")]) + "]").encode()
    service = start_connected(make_service(tmp_path / "data", mosquitto.url))
    try:
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id="", protocol=paho.MQTTv311)
        client.connect("127.0.0.1", mosquitto.port)
        client.loop_start()
        try:
            info = client.publish(TOPIC, payload, qos=1)
            info.wait_for_publish(30)
            assert info.is_published()
        finally:
            shut(client)
        wait_for(lambda: service.dead_letters.count() >= 1, 60, "the batch's dead letter")

        def stored() -> list[int]:
            got = service.store.readings("yucai", "c1-water", Kind.WATER, stamps[0] * 1000, stamps[-1] * 1000 + 1)
            return [s.ts // 1000 for s in got]

        wait_for(lambda: len(stored()) >= 3, 60, "the batch's three valid readings in the store")
        assert stored() == [stamps[0], stamps[2], stamps[4]]
        letter = service.dead_letters.list()[0]
        assert letter.payload == payload  # kept whole, for replay once the gateway is fixed
        assert [i for i, _ in letter.items] == [1, 3]
        reasons = dict(letter.items)
        assert "values.volume_m3 is beyond a double's range" in str(reasons[1])
        assert "at note holds a lone surrogate" in str(reasons[3])
        assert letter.reason.startswith("2 of 5 batch items refused (the others were stored)")
    finally:
        service.stop()


def test_replay_stores_the_valid_readings_of_a_letter_refused_whole_before(tmp_path: Path) -> None:
    """A dead letter made before the fix (the whole batch refused as 'not JSON') is replayed: its valid
    readings are stored, and the letter stays pending with the one item still refused and why."""
    pipeline = Pipeline.open(tmp_path, StoreSettings(), IngestSettings(), "campus")
    try:
        pipeline.registry.seed(CAMPUS)
        stamps = [NOW_S - 600, NOW_S - 300, NOW_S]
        payload = ("[" + ",".join([_item(stamps[0], "1.5"), _item(stamps[1], "1e400"), _item(stamps[2], "1.7")])
                   + "]").encode()
        pipeline.dead_letters.add([Refusal(TOPIC, payload, "payload is not JSON: number is infinity when parsed "
                                                           "as double: line 1 column 59 (char 58)", NOW_S * 1000)])
        letter = pipeline.dead_letters.list()[0]
        with pytest.raises(PayloadError, match="1 of 3 batch items refused"):
            pipeline.replay(letter.id)
        got = pipeline.store.readings("yucai", "c1-water", Kind.WATER, stamps[0] * 1000, stamps[-1] * 1000 + 1)
        assert [(s.ts // 1000, s.values) for s in got] == [(stamps[0], {"volume_m3": 1.5}),
                                                          (stamps[2], {"volume_m3": 1.7})]
        after = pipeline.dead_letters.list()  # still pending, now saying which item is left
        assert [(d.id, d.times, d.first_ms) for d in after] == [(letter.id, 1, letter.first_ms)]
        assert [i for i, _ in after[0].items] == [1]
        assert "beyond a double's range" in after[0].reason
        with pytest.raises(PayloadError):  # again: the same answer, nothing stored twice
            pipeline.replay(letter.id)
        assert len(pipeline.store.readings("yucai", "c1-water", Kind.WATER, stamps[0] * 1000,
                                           stamps[-1] * 1000 + 1)) == 2
    finally:
        pipeline.close()
