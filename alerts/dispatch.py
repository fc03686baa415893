"""Delivery of the outbox: each due notice is sent on a worker thread, so one slow or dead channel
never holds up the others (or ingest). Failures are retried with exponential backoff and every
attempt is recorded as an alert event; after ``max_attempts`` the notice is marked failed."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from alerts.channels import AppriseNotifier, Notifier, SendFailed
from alerts.store import AlertStore, Notice
from campus.clock import WallClock

log = logging.getLogger("meterwatch.alerts")


class Dispatcher:
    def __init__(self, store: AlertStore, notifiers: dict[str, Notifier], *, workers: int = 8,
                 retry_initial_s: float = 2.0, retry_max_s: float = 300.0, max_attempts: int = 10,
                 sites: list[str] | None = None) -> None:
        self.store, self.notifiers = store, notifiers
        self.sites = sites  # the sites whose notices this process sends (None: all)
        self.default: Notifier = notifiers.get("*", AppriseNotifier())
        self.retry_initial_s, self.retry_max_s, self.max_attempts = retry_initial_s, retry_max_s, max_attempts
        self.clock = WallClock()  # retries run on real time, whatever clock the rules use
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="mw-notify")
        self._busy: set[int] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mw-dispatch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            try:
                with self._lock:
                    due = self.store.due_notices(self.clock.now_ms(), set(self._busy), sites=self.sites)
                    for n in due:
                        self._busy.add(n.id)
                for n in due:
                    self._pool.submit(self._send, n)
            except Exception:
                log.exception("dispatcher loop failed; retrying")

    def _notifier(self, notice: Notice) -> Notifier:
        scheme = notice.url.split(":", 1)[0]
        return self.notifiers.get(scheme, self.default)

    def _send(self, notice: Notice) -> None:
        try:
            self._notifier(notice).send(notice)
        except Exception as exc:
            err = str(exc) if isinstance(exc, SendFailed) else f"{type(exc).__name__}: {exc}"
            attempt = notice.attempts + 1
            retry = None
            if attempt < self.max_attempts:
                retry = self.clock.now_ms() + int(min(self.retry_initial_s * 2 ** (attempt - 1),
                                                      self.retry_max_s) * 1000)
            log.warning("notification failed", extra={"alert": notice.alert_id, "channel": notice.channel,
                                                      "to": notice.recipient, "attempt": attempt, "error": err})
            self.store.notice_failed(notice, err, self.clock.now_ms(), retry)
        else:
            self.store.notice_sent(notice, self.clock.now_ms())
        finally:
            with self._lock:
                self._busy.discard(notice.id)
            self._wake.set()
