"""The app's lifespan closes what it opened, even when a second lifespan runs over the same app meanwhile (a
test client inside another, as schemathesis's loader does): nothing is orphaned to run on after its stores
are closed."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi.testclient import TestClient

from tests.support.paths import SAMPLE
from tests.support.stack import build_stack


def _checkers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "records-check" and t.is_alive()]


def test_a_nested_lifespan_orphans_nothing(tmp_path: Path) -> None:
    before = _checkers()
    with build_stack(tmp_path / "data", SAMPLE, store=False, evaluate=False) as stack:
        app = stack.app()
        with TestClient(app) as outer:
            first = app.state.records
            with TestClient(app):  # replaces what app.state holds while it runs
                assert app.state.records is not first
            assert outer.get("/api/v1/health").status_code == 200
        assert _checkers() == before  # both records desks stopped their overdue checks
        assert first._stop.is_set()  # noqa: SLF001 - the first lifespan's own desk, closed by it
