from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from campus.db import DataDir, Place
from tests.support.paths import SAMPLE
from tests.support.servers import Influx, Mosquitto, Postgres
from tests.support.stack import Stack, build_stack


@pytest.fixture(autouse=True)
def _umask_kept() -> Iterator[None]:
    """A command run in-process must not leave the test process's umask changed (the services set 077 when they
    run): every later test would then write files with other modes. Such a test fails here, and is put right."""
    before = os.umask(0o022)
    os.umask(before)
    yield
    after = os.umask(before)
    assert after == before, f"this test left the process umask at {after:04o} (was {before:04o})"


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def influx(tmp_path: Path) -> Iterator[Influx]:
    server = Influx(tmp_path / "influxdb")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    """One real PostgreSQL for the whole run (initdb costs seconds); each test takes a database of its own
    (``state_url``). Tests that stop the server start their own (:class:`Postgres`)."""
    server = Postgres(tmp_path_factory.mktemp("postgres"))
    server.start()
    yield server
    server.remove()


@pytest.fixture
def state_url(postgres: Postgres) -> str:
    """A fresh, empty database on the session's PostgreSQL: ``[state] url`` for one test."""
    return postgres.database()


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_state(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    """Where the shared state (registry, tokens, credentials) lives, once per backend: meterwatch.db in the test's
    data directory, then schema ``state`` of a fresh database on the session's real PostgreSQL."""
    if request.param == "sqlite":
        return DataDir(tmp_path).shared
    return DataDir(tmp_path, request.getfixturevalue("state_url")).shared


@pytest.fixture(params=["sqlite", "postgresql"])
def state_for(request: pytest.FixtureRequest) -> Callable[[Path], str | None]:
    """``[state] url`` for a data directory, once per backend: none (SQLite in the data directory), then a fresh
    database on the session's real PostgreSQL per data directory (the same one each time it is asked again)."""
    urls: dict[Path, str | None] = {}

    def url(data: Path) -> str | None:
        if data not in urls:
            urls[data] = None if request.param == "sqlite" else request.getfixturevalue("postgres").database()
        return urls[data]

    return url


@pytest.fixture
def sample_campus_file() -> Path:
    return SAMPLE


@pytest.fixture(scope="module")
def app_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Stack]]:
    """Makes application stacks (tests/support/stack.py: ingest, alerts, ``create_app``) in fresh data
    directories, and closes them when the module is done: ``app_stack(campus, batch, name=..., **options)``."""
    with ExitStack() as stacks:
        def make(campus: Path = SAMPLE, batch: Any = (), *, name: str = "stack", **options: Any) -> Stack:
            return stacks.enter_context(build_stack(tmp_path_factory.mktemp(name), campus, batch, **options))

        yield make
