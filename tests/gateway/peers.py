"""A scripted meter peer on a real pty, for the bus's hostile cases that the simulated meters do not play: an
adapter that echoes, a second meter answering with its own address, garbage. ``respond(request_bytes, frame)``
returns the bytes to put on the line (or b"" for silence)."""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.protocols import dlt645

Respond = Callable[[bytes, Any], bytes]


class PtyPeer:
    """The far end of a pty whose slave is linked at ``link`` (what the bus's ``serial:`` names)."""

    def __init__(self, link: Path, respond: Respond) -> None:
        self.link = link
        self.respond = respond
        self.requests: list[Any] = []
        self._master, self._slave = os.openpty()
        link.symlink_to(os.ttyname(self._slave))
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="pty-peer", daemon=True)

    def __enter__(self) -> PtyPeer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        os.write(self._stop_w, b"x")
        self._thread.join(timeout=5)
        for fd in (self._master, self._slave, self._stop_r, self._stop_w):
            os.close(fd)
        self.link.unlink()

    def _run(self) -> None:
        deframer = dlt645.Deframer()
        buf = b""
        while True:
            ready, _, _ = select.select([self._master, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            try:
                data = os.read(self._master, 4096)
            except OSError:
                return
            buf += data
            for item in deframer.feed(data):
                if isinstance(item, dlt645.Frame):
                    self.requests.append(item)
                    out = self.respond(buf, item)
                    buf = b""
                    if out:
                        os.write(self._master, out)
