"""Property-based fuzzing of the alert engine through the real AlertService (its store, engine and book):
10,000+ generated messages per run, valid readings with values anywhere in their physical range and times
anywhere in the accepted window mixed with hostile ones. No exception escapes ``evaluate``; a message the
engine cannot evaluate is recorded and skipped, and the rest of its batch is evaluated."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from campus.clock import FrozenClock
from campus.contract import Reading
from ingest.decode import Inbound
from tests.support.drive import alert_service
from tests.support.fuzz import NOW_S, dumps, engine_messages

PAYLOADS_PER_RUN = 10_000
SEED = int(os.environ.get("METERWATCH_FUZZ_SEED", "0"))
FUZZ = settings(max_examples=PAYLOADS_PER_RUN // 10, deadline=None, derandomize=SEED == 0, database=None,
                suppress_health_check=list(HealthCheck))


def test_the_engine_takes_any_stream_without_an_exception(tmp_path: Path) -> None:
    svc = alert_service(tmp_path, FrozenClock(NOW_S * 1000))
    seen = 0

    @seed(SEED)
    @FUZZ
    @given(st.lists(engine_messages, min_size=10, max_size=20), st.integers(min_value=0, max_value=86_400))
    def run(batch: list[tuple[str, bytes]], advance_s: int) -> None:
        nonlocal seen
        seen += len(batch)
        svc.clock.advance(advance_s)  # type: ignore[attr-defined]
        svc.evaluate([Inbound(t, p, NOW_S * 1000, i, 1) for i, (t, p) in enumerate(batch)])
        svc.tick()

    try:
        run()
        assert svc.failed == svc.store.failure_count() == 0, svc.store.failures(3)
        raised = svc.store.count_matching()
    finally:
        svc.stop()
    print(f"\nalert engine fuzz: {seen} messages, {raised} alerts raised, 0 exceptions")
    assert seen >= PAYLOADS_PER_RUN


def test_a_message_the_engine_cannot_evaluate_is_recorded_and_the_rest_go_on(tmp_path: Path) -> None:
    svc = alert_service(tmp_path, FrozenClock(NOW_S * 1000))
    real = svc.engine.reading

    def fragile(r: Reading) -> list[object]:
        if r.device == "c1-gas":
            raise ZeroDivisionError("a rule's own bug")
        return real(r)  # type: ignore[return-value]

    svc.engine.reading = fragile  # type: ignore[method-assign,assignment]
    body = dumps({"ts": NOW_S - 60, "values": {"volume_m3": 10.0, "flow_m3h": 6.0}})
    batch = [Inbound(f"campus/yucai/{d}/reading", body, NOW_S * 1000, i, 1)
             for i, d in enumerate(["c1-water", "c1-gas", "d1-water"])]
    try:
        svc.evaluate(batch)  # does not raise
        assert svc.failed == 1
        ((failure),) = svc.store.failures()
        topic, payload, error = failure.topic, failure.payload, failure.error
        assert topic == "campus/yucai/c1-gas/reading"
        assert payload == body
        assert "ZeroDivisionError: a rule's own bug" in error
        assert {"c1-water", "d1-water"} <= set(svc.engine.devices)
        assert "c1-gas" not in svc.engine.devices
    finally:
        svc.stop()
