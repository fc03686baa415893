"""The meters on one bus, as the wire sees them: bytes in, answers out.

Every protocol on the bus has its own deframer fed the same bytes (a DL/T 645 frame is noise to the
CJ/T 188 deframer and the other way round); each whole request goes to every meter of that protocol, and
each meter decides whether it is addressed. When two or more answer the same request (read-address, a
wildcard or broadcast read on a bus of several meters) they talk over each other: the line carries the
bytes of all of them ANDed together, a frame no checksum passes (RS-485 drivers fighting: a 0 wins).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from gateway.protocols import cjt188, dlt645, frames, modbus
from simulators.meters.meter import SimMeter

log = logging.getLogger(__name__)

FAMILY = {"dlt645": "dlt645", "dlt645_1997": "dlt645", "cjt188": "cjt188", "modbus": "modbus"}


def _deframer(family: str) -> Any:
    if family == "dlt645":
        return dlt645.Deframer()
    if family == "cjt188":
        return cjt188.Deframer()
    return modbus.RtuDeframer(requests=True)


def collide(answers: Sequence[bytes]) -> bytes:
    """What the line carries when several meters answer at once: their bytes ANDed, as long as the longest."""
    size = max(len(a) for a in answers)
    out = bytearray(b"\xff" * size)
    for a in answers:
        for i, byte in enumerate(a):
            out[i] &= byte
    return bytes(out)


class BusMeters:
    """The meters of one bus; ``receive`` is what :class:`simulators.meters.line.Line` calls."""

    def __init__(self, name: str, meters: Sequence[SimMeter]) -> None:
        self.name = name
        self.meters = list(meters)
        self._lock = threading.Lock()
        families = sorted({FAMILY[m.protocol] for m in self.meters})
        self._deframers = {f: _deframer(f) for f in families}
        self.counters = {"requests": 0, "garbled": 0, "answers": 0, "collisions": 0, "errors": 0}
        self.on_request: Callable[[Any], None] | None = None  # tests: see each request as the meters saw it

    def receive(self, data: bytes) -> list[tuple[float, bytes]]:
        out: list[tuple[float, bytes]] = []
        with self._lock:
            for family, deframer in self._deframers.items():
                for item in deframer.feed(data):
                    if isinstance(item, frames.Garbled):
                        self.counters["garbled"] += 1
                        continue
                    self.counters["requests"] += 1
                    if self.on_request is not None:
                        self.on_request(item)
                    reply = self._answer(family, item)
                    if reply is not None:
                        out.append(reply)
        return out

    def _answer(self, family: str, frame: Any) -> tuple[float, bytes] | None:
        shaped: list[tuple[float, bytes]] = []
        for meter in self.meters:
            if FAMILY[meter.protocol] != family:
                continue
            try:
                answer = meter.handle(frame)
            except Exception:  # one meter's bug must not silence the bus
                self.counters["errors"] += 1
                log.exception("simulated meter %s failed on a request", meter.device_id)
                continue
            if answer is None:
                continue
            reply = meter.shape(answer)
            if reply is not None:
                shaped.append(reply)
        if not shaped:
            return None
        self.counters["answers"] += 1
        if len(shaped) == 1:
            return shaped[0]
        self.counters["collisions"] += 1
        return max(d for d, _ in shaped), collide([a for _, a in shaped])
