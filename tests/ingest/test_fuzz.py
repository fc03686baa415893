"""Property-based fuzzing of decode → commit: whatever arrives, no exception escapes, every message is
acknowledged, and every refused message is exactly one dead letter naming its reason.

Derandomized, so CI runs the same 10,000+ payloads every time (a fuzzer that fails only sometimes would be
a flaky test); set METERWATCH_FUZZ_SEED to explore other ones.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from campus.contract import Kind, Reading
from campus.db import DataDir
from campus.errors import StoreRejected
from campus.model import Device
from ingest.config import IngestSettings, StoreSettings
from ingest.decode import Inbound
from ingest.pipeline import Pipeline
from tests.support.fuzz import CAMPUS, NOW_S, messages, valid_messages

PAYLOADS_PER_RUN = 10_000
SEED = int(os.environ.get("METERWATCH_FUZZ_SEED", "0"))
FUZZ = settings(max_examples=PAYLOADS_PER_RUN // 5, deadline=None, derandomize=SEED == 0, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    p = Pipeline.open(tmp_path, StoreSettings(), IngestSettings(), "campus")
    p.registry.seed(CAMPUS)
    yield p
    p.close()


def test_any_payload_is_stored_or_one_dead_letter_naming_its_reason(pipeline: Pipeline, tmp_path: Path) -> None:
    acked: list[Inbound] = []
    pipeline.ack = acked.append
    db = sqlite3.connect(DataDir(tmp_path).state)
    seen = 0

    @seed(SEED)
    @FUZZ
    @given(st.lists(st.one_of(messages, valid_messages()), min_size=5, max_size=10))
    def run(batch: list[tuple[str, bytes]]) -> None:
        nonlocal seen
        seen += len(batch)
        inbound = [Inbound(t, p, NOW_S * 1000, mid, 1) for mid, (t, p) in enumerate(batch)]
        acked.clear()
        decoded = pipeline.commit(inbound)  # must not raise
        assert acked == inbound
        for msg, d in zip(inbound, decoded, strict=True):
            assert len(d.refusals) <= 1
            for r in d.refusals:
                assert r.reason.strip()
                row = db.execute("SELECT reason FROM dead_letters WHERE topic = ? AND payload = ?",
                                 (msg.topic.encode("utf-8", "replace").decode(), msg.payload)).fetchone()
                assert row is not None, f"no dead letter for {msg.topic!r}"
            if not d.refusals and not d.statuses and d.health is None:
                assert d.readings, "a message with no readings, no status, no health and no refusal"

    run()
    letters = db.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
    db.close()
    print(f"\ndecode → commit fuzz: {seen} payloads, {letters} distinct dead letters, "
          f"{pipeline.store.count()} readings stored, 0 exceptions")
    assert seen >= PAYLOADS_PER_RUN


class _Refusing:
    """A store that refuses some readings for good (as InfluxDB answers 400 for a field type conflict) and
    fails in a way nobody foresaw on others; delegates the rest to the real SQLite store."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.writes = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def write(self, readings: list[Reading]) -> None:
        self.writes += 1
        if any(r.values.get("volume_m3") == 13.0 for r in readings):
            raise StoreRejected("partial write: field type conflict")
        if any(r.values.get("volume_m3") == 666.0 for r in readings):
            raise TypeError("the store client's own bug")
        self.inner.write(readings)  # type: ignore[attr-defined]


def _water(volume: float, ts: int) -> bytes:
    return f'{{"ts": {ts}, "values": {{"volume_m3": {volume}}}}}'.encode()


def test_store_refusals_are_isolated_by_splitting_and_the_rest_is_stored(pipeline: Pipeline) -> None:
    pipeline.store = _Refusing(pipeline.store)  # type: ignore[assignment]
    batch = [Inbound("campus/yucai/c1-water/reading", _water(v, NOW_S - 3600 + i), NOW_S * 1000, i, 1)
             for i, v in enumerate([1.0, 2.0, 13.0, 3.0, 666.0, 4.0, 5.0, 6.0])]
    pipeline.commit(batch)
    assert pipeline.store.count("c1-water") == 6
    reasons = " | ".join(sorted(d.reason for d in pipeline.dead_letters.list()))
    assert reasons.count("store refused it") == 2
    assert "field type conflict" in reasons
    assert "TypeError: the store client's own bug" in reasons
    assert pipeline.store.writes < 16  # split in halves, not one write per reading


def test_spool_drainer_dead_letters_what_the_store_refuses_and_drains_the_rest(pipeline: Pipeline) -> None:
    readings = [Reading("c1-water", (NOW_S - 3600 + i) * 1000, Kind.WATER, "yucai", "canteen-1", "canteen",
                        "zone-north", {"volume_m3": v}) for i, v in enumerate([1.0, 13.0, 2.0, 3.0])]
    pipeline.spool.append(readings)
    pipeline.store = _Refusing(pipeline.store)  # type: ignore[assignment]
    pipeline.start(writer=False)
    try:
        from tests.support.servers import wait_for

        wait_for(lambda: pipeline.spool.depth == 0, 20, "the spool drained")
    finally:
        pipeline.stop()
    assert pipeline.store.count("c1-water") == 3
    (letter,) = pipeline.dead_letters.list()
    assert letter.topic == "campus/yucai/c1-water/reading"
    assert "field type conflict" in letter.reason
    # replayable once the store takes it
    pipeline.store = pipeline.store.inner  # type: ignore[attr-defined]
    assert pipeline.replay(letter.id) == 1
    assert pipeline.store.count("c1-water") == 4


def test_dead_letters_are_bounded_replayed_first_then_oldest_and_health_warns(tmp_path: Path) -> None:
    from ingest.deadletters import DeadLetterStore, Refusal

    letters = DeadLetterStore(tmp_path / "dl.db", max_count=10, max_bytes=10_000)
    try:
        letters.add([Refusal("t/a", f"bad {i}".encode(), "why", i) for i in range(8)])
        letters.mark_replayed(letters.list()[2].id, 99)
        assert letters.usage().fill == 0.8
        letters.add([Refusal("t/a", b"bad 0", "why", 100)])  # the same payload again: counted, not a new letter
        assert letters.list()[0].times == 2
        letters.add([Refusal("t/b", f"more {i}".encode(), "why", 200 + i) for i in range(4)])
        usage = letters.usage()
        assert (usage.count, usage.evicted) == (10, 2)
        kept = [d.payload for d in letters.list(pending_only=False)]
        assert b"bad 2" not in kept  # the replayed one went first
        assert b"bad 0" not in kept  # then the oldest
        assert b"more 3" in kept
        letters.add([Refusal("t/c", b"x" * 9_000, "big", 300)])  # the byte bound too
        assert letters.usage().bytes <= 10_000
        assert letters.list(pending_only=False)[-1].payload == b"x" * 9_000
    finally:
        letters.close()


def test_a_topic_that_is_not_utf8_reaches_decode_instead_of_stopping_paho() -> None:
    import paho.mqtt.client as paho

    from ingest.config import MqttSettings
    from ingest.mqtt import MqttSource

    got: list[Inbound] = []
    source = MqttSource(MqttSettings(), got.append)
    msg = paho.MQTTMessage(mid=7, topic=b"campus/yucai/\xff\xfe/reading")
    msg.payload = b"{}"
    source._message(None, None, msg)  # type: ignore[arg-type]  # what paho's loop calls
    assert got[0].topic == "campus/yucai/\ufffd\ufffd/reading"


def test_replay_reports_success_only_when_its_readings_are_stored(pipeline: Pipeline) -> None:
    from campus.errors import StoreUnavailable

    pipeline.commit([Inbound("campus/yucai/new-meter/reading", _water(5.0, NOW_S - 60), NOW_S * 1000, 1, 1)])
    (letter,) = pipeline.dead_letters.list()
    pipeline.registry.add_device(Device(id="new-meter", kind="water", building="dorm-1"))  # type: ignore[arg-type]
    real = pipeline.store

    class Down:
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def write(self, readings: object) -> None:
            raise StoreUnavailable("influxdb: connection refused")

    pipeline.store = Down()  # type: ignore[assignment]
    with pytest.raises(StoreUnavailable):
        pipeline.replay(letter.id)
    assert pipeline.dead_letters.get(letter.id).replayed_ms is None  # not claimed, nothing spooled
    assert pipeline.spool.depth == 0
    pipeline.store = real
    assert pipeline.replay(letter.id) == 1
    assert real.count("new-meter") == 1
    stored = real.readings(CAMPUS.site.id, "new-meter", Kind.WATER, 0, 2**62)
    assert stored[0].ts == (NOW_S - 60) * 1000
    assert pipeline.dead_letters.get(letter.id).replayed_ms is not None
