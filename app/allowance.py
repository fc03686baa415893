"""Dorm rooms' allowance notices (定额提醒): checked every ``[billing] allowance_check_s`` and sent.

Each pass writes the notices owed (``billing.allowance.check_site``: once per payer, kind, month and threshold,
in billing.db), then sends every pending one that is due through the duty roster's channels (``[alerts]
roster_file``): the ``email`` channel's apprise URL with the contact's address as ``{email}`` (``sms`` and
``{phone}`` for a contact with a phone only), through the alerts' own channel code (apprise; ``mqtt:TOPIC``
publishes on the broker). A send that fails is retried at a later pass (``billing.allowance_outbox``). The
channel is looked up at each try, so fixing the roster lets the next retry through.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from alerts.channels import ChannelSender, Notifier, SendFailed
from alerts.roster import RosterFile, load_rosters, roster_of
from alerts.store import Notice
from app.periodic import Periodic
from billing.allowance import check_site
from billing.allowance_outbox import AllowanceOutbox, OwedNotice
from billing.desk import BillingDesk, NoBilling
from campus.clock import Clock
from campus.db import DataDir

log = logging.getLogger("meterwatch.billing")


class AllowanceNotifier:
    def __init__(self, data_dir: Path, desk: BillingDesk, roster_file: Path | None, clock: Clock, *,
                 publish: Callable[[str, bytes], None] | None = None, mail: Notifier | None = None) -> None:
        self.desk, self.roster_file, self.clock = desk, roster_file, clock
        self.outbox = AllowanceOutbox(DataDir(data_dir).billing)
        self._sender = ChannelSender(publish, mail)
        self.passes = 0  # passes finished (tests wait on it)
        self._lock = threading.Lock()
        self._loop = Periodic("mw-allowance", "the allowance check", self.run_once)

    # -- one pass ------------------------------------------------------------------------------------------
    def run_once(self) -> tuple[int, int]:
        """Write the notices owed now and send those due: (written, sent)."""
        with self._lock:
            written = self.check()
            sent = self.send_due()
            self.passes += 1
            return written, sent

    def check(self) -> int:
        if not self.desk.enabled:
            return 0
        written = 0
        for site in list(self.desk.usage.campuses):
            try:
                written += len(check_site(self.desk, self.outbox, site))
            except NoBilling:
                continue
            except Exception:  # one site's mistake (a broken billing file) must not stop the others
                log.exception("checking allowances failed", extra={"site": site})
        return written

    def send_due(self) -> int:
        now_ms = self.clock.now_ms()
        due = self.outbox.due(now_ms)
        if not due:
            return 0
        rosters: dict[str | None, RosterFile] | Exception
        try:
            rosters = load_rosters(self.roster_file)
        except Exception as exc:  # a broken roster: every notice fails with why, and is retried later
            rosters = exc
        sent = 0
        for n in due:
            if n.month < self._month(n.site):
                self.outbox.give_up(n, f"not sent before {n.month} was over: it would speak of the wrong month")
                continue
            try:
                self._send(n, rosters)
            except Exception as exc:
                err = str(exc) if isinstance(exc, SendFailed) else f"{type(exc).__name__}: {exc}"
                log.warning("allowance notice failed", extra={"payer": n.payer, "channel": n.channel, "error": err})
                self.outbox.failed(n, err, self.clock.now_ms())
            else:
                self.outbox.sent(n, self.clock.now_ms())
                sent += 1
        return sent

    def _month(self, site: str) -> str:
        """This month at ``site`` ("" for a site no longer in the campus: nothing is past it)."""
        campus = self.desk.usage.campuses.get(site)
        return "" if campus is None else self.desk.now(campus.site.timezone).strftime("%Y-%m")

    def _send(self, n: OwedNotice, rosters: dict[str | None, RosterFile] | Exception) -> None:
        if isinstance(rosters, Exception):
            raise SendFailed(f"the duty roster cannot be read: {rosters}")
        if self.roster_file is None:
            raise SendFailed("no duty roster: set [alerts] roster_file to a roster with channels: {email: "
                             "\"mailto://…?to={email}\"}, through which allowance notices are sent")
        template = roster_of(rosters, n.site).channels.get(n.channel)
        if template is None:
            raise SendFailed(f"the duty roster has no {n.channel!r} channel for site {n.site}: add channels: "
                             f"{{{n.channel}: …}} (an apprise URL with {{email}} or {{phone}})")
        try:
            url = template.format(email=n.address if n.channel == "email" else "",
                                  phone=n.address if n.channel == "sms" else "", id=n.payer)
        except (KeyError, IndexError, ValueError) as exc:
            raise SendFailed(f"the roster's {n.channel!r} channel is not a template of {{email}}, {{phone}} and "
                             f"{{id}}: {exc}") from None
        notice = Notice(id=0, alert_id=0, event="allowance", level=0, channel=n.channel, recipient=n.payer, url=url,
                        title=n.title, body=n.body,
                        payload={"event": "allowance", "site": n.site, "month": n.month, "payer": n.payer,
                                 "kind": n.kind, "threshold": n.threshold, "used": n.used, "allowance": n.allowance},
                        attempts=n.attempts, status=n.status, last_error=n.last_error, created_ms=n.created_ms,
                        sent_ms=None)
        self._sender.send(notice)

    # -- the loop ------------------------------------------------------------------------------------------
    def keep_checking(self, every_s: float) -> None:
        """A pass every ``every_s`` (the first one ``every_s`` after start, so starting costs nothing) in a thread
        of its own until :meth:`close`; 0: never."""
        self._loop.start(every_s)

    def close(self) -> None:
        self._loop.stop()
        with self._lock:
            self.outbox.close()
