"""The app over a real ingest service (SQLite, no broker) and a real AlertService (frozen delivery clock)
that has evaluated ``batch``, in a TestClient with an admin token; the roster is the tests' (unreachable
channels). The stack itself is tests/support/stack.py's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient

from alerts.service import AlertService
from campus.clock import Clock
from ingest.decode import Inbound
from tests.support.harness import token_headers
from tests.support.paths import SAMPLE
from tests.support.stack import build_stack


@contextmanager
def alert_app(data_dir: Path, batch: list[Inbound], *, store: bool = False,
              campus: Path = SAMPLE, clock: Clock | None = None) -> Iterator[tuple[TestClient, AlertService]]:
    """``store``: ingest commits the batch too (the readings endpoints and the water board see it). ``campus``:
    a campus file or directory (every site in it). ``clock``: the app's now (records, the sweep)."""
    with build_stack(data_dir, campus, batch, store=store) as stack, \
            TestClient(stack.app(clock), headers=token_headers(data_dir)) as client:
        yield client, stack.alerts
