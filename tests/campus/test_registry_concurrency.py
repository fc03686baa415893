"""Registry changes made at the same time, from two processes and from threads, lose nothing: each change is a
read-modify-write inside one write transaction."""

from __future__ import annotations

import multiprocessing
import threading

from campus.db import Place
from campus.model import Device, load_campus
from campus.registry import Registry
from tests.support.paths import SAMPLE

PER_WRITER = 25


def _add(db: Place, prefix: str) -> None:
    registry = Registry(db)
    try:
        for i in range(PER_WRITER):
            registry.add_device(Device(id=f"{prefix}-{i}", kind="water", building="dorm-1"))  # type: ignore[arg-type]
            registry.update_device("c1-water", {"name": f"{prefix} {i}"})
    finally:
        registry.close()


def test_concurrent_device_changes_lose_nothing(shared_state: Place) -> None:
    """On SQLite (one file, two processes) and on PostgreSQL (two processes standing for two hosts)."""
    db = shared_state
    seed = Registry(db)
    seed.seed(load_campus(SAMPLE))
    before = len(seed.campus.devices)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_add, args=(db, f"proc{n}")) for n in range(2)]
    threads = [threading.Thread(target=_add, args=(db, f"thread{n}")) for n in range(2)]
    for w in [*procs, *threads]:
        w.start()
    for t in threads:
        t.join(120)
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    seed.close()
    after = Registry(db)
    try:
        ids = {d.id for d in after.campus.devices}
        assert len(ids) == before + 4 * PER_WRITER
        assert all(f"{w}-{i}" in ids for w in ("proc0", "proc1", "thread0", "thread1") for i in range(PER_WRITER))
        assert after.device("c1-water").kind.value == "water"  # updates merged into the current record
    finally:
        after.close()
