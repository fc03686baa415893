"""A pass every so often, in a thread of its own: what the allowance notices, the annual return's reminders and
the water balance each run beside the API."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("meterwatch.periodic")


class Periodic:
    """Runs ``run`` every ``every_s`` (the first time ``every_s`` after :meth:`start`, so starting costs nothing)
    until :meth:`stop`. A pass that raises is logged as ``what`` failed and the next one tries again."""

    def __init__(self, name: str, what: str, run: Callable[[], object]) -> None:
        self.name, self.what, self._run = name, what, run
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, every_s: float) -> None:
        """0 or less: never."""
        if every_s <= 0:
            return

        def loop() -> None:
            while not self._stop.wait(every_s):
                try:
                    self._run()
                except Exception:  # one bad pass must not end the loop; the next one tries again
                    log.exception("%s failed", self.what)

        self._thread = threading.Thread(target=loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stops the loop and waits for a pass under way (at most 30 s)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
