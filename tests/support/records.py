"""What the records tests share: the app over a real ingest service and alert service with the records desk on a
frozen clock, a small PNG, epoch milliseconds."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from fastapi.testclient import TestClient

from alerts.service import AlertService
from campus.clock import FrozenClock
from ingest.decode import Inbound
from tests.support.alertapp import alert_app


def png(w: int = 8, h: int = 6, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(buf, "PNG")
    return buf.getvalue()


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@contextmanager
def records_app(tmp: Path, now: datetime, batch: list[Inbound] | None = None,
                ) -> Iterator[tuple[TestClient, AlertService, FrozenClock]]:
    clock = FrozenClock(ms(now))
    with alert_app(tmp, batch or [], store=bool(batch), clock=clock) as (client, alerts):
        yield client, alerts, clock
