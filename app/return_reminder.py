"""The annual return's reminder (报送提醒): a month before the deadline, once per site and year, through the roster.

Every ``[returns] check_s`` each site is looked at in its own time zone. From local midnight ``remind_days_before``
days before the deadline (``[returns] deadline`` of the year after the one reported: 31 March, 30 days before: from
1 March) until the deadline day is over, the year before's reminder is owed: one row per person and channel in the
outbox (``records.return_outbox``, in records.db), written before anything is sent, so a restart neither loses nor
repeats it. Who: ``[returns] remind`` (person ids on the site's duty roster), else the roster's ``bulletin:`` heads;
each through their own ``notify`` channels (apprise; ``mqtt:TOPIC`` publishes on the broker), as the alerts reach
them. A failed send is retried (1 minute, doubling to 1 hour); one still unsent when the deadline is over is
dropped, saying why. The text is Chinese first, then English.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from alerts.channels import ChannelSender, Notifier, SendFailed
from alerts.roster import DutyRoster, RosterFile, load_rosters, roster_of
from alerts.store import Notice
from app.periodic import Periodic
from campus.calendar import CampusCalendar
from campus.clock import Clock
from campus.db import DataDir
from campus.model import Campus
from records.return_outbox import Reminder, ReturnOutbox
from reports.annual_return import deadline_of
from reports.return_form import ReturnSettings

log = logging.getLogger("meterwatch.returns")


def window(year: int, settings: ReturnSettings, tz: dt.tzinfo) -> tuple[int, int]:
    """(from, until) in ms: when the reminder for ``year`` is owed (from local midnight ``remind_days_before`` days
    before the deadline until the end of the deadline day)."""
    due = deadline_of(year, settings)
    start = dt.datetime.combine(due - dt.timedelta(days=settings.remind_days_before), dt.time(), tz)
    end = dt.datetime.combine(due + dt.timedelta(days=1), dt.time(), tz)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def wording(campus: Campus, year: int, due: dt.date) -> tuple[str, str]:
    name = campus.site.name
    title = (f"{name}：{year}年度公共机构能源资源消费统计请于{due.month}月{due.day}日前报送 / "
             f"{year} energy return due {due}")
    body = (f"{name}：{year}年度公共机构能源资源消费统计报表须于{due.year}年{due.month}月{due.day}日前报送。"
            f"请在 meterwatch 中核对各能源消费量与费用，补填建筑面积、用能人数、车辆及燃油和未计价的费用"
            f"（PUT /api/v1/returns/{year}/entries），"
            f"再导出报表（meterwatch report return --year {year} -o 报表.xlsx）。\n\n"
            f"{name}: the {year} public-institution energy return is due by {due:%Y-%m-%d}. Check each energy's "
            f"quantity and cost in meterwatch, enter the floor area, energy users, vehicles and fuel and any cost "
            f"billing does not price (PUT /api/v1/returns/{year}/entries), then export it "
            f"(meterwatch report return --year {year} -o return.xlsx).")
    return title, body


class ReturnReminder:
    def __init__(self, data_dir: Path, settings: ReturnSettings, campuses: Callable[[], dict[str, Campus]],
                 roster_file: Path | None, clock: Clock, *, publish: Callable[[str, bytes], None] | None = None,
                 mail: Notifier | None = None) -> None:
        self.settings, self.campuses, self.roster_file, self.clock = settings, campuses, roster_file, clock
        self.outbox = ReturnOutbox(DataDir(data_dir).records)
        self._sender = ChannelSender(publish, mail)
        self.passes = 0  # passes finished (tests wait on it)
        self._lock = threading.Lock()
        self._loop = Periodic("mw-return-reminder", "the annual return reminder check", self.run_once)

    def run_once(self) -> tuple[int, int]:
        """Write the reminders owed now and send those due: (written, sent)."""
        with self._lock:
            written, sent = self.check(), self.send_due()
            self.passes += 1
            return written, sent

    def check(self) -> int:
        now_ms = self.clock.now_ms()
        owed: list[Reminder] = []
        rosters: dict[str | None, RosterFile] | None = None
        for site, campus in self.campuses().items():
            tz = ZoneInfo(campus.site.timezone)
            year = dt.datetime.fromtimestamp(now_ms / 1000, tz).year - 1
            start, end = window(year, self.settings, tz)
            if not start <= now_ms < end or self.outbox.owed(site, year):
                continue
            if rosters is None:
                try:
                    rosters = load_rosters(self.roster_file)
                except Exception:  # a broken roster: nothing is owed yet; the next pass tries again
                    log.exception("the duty roster cannot be read: the annual return's reminder waits")
                    return 0
            owed += self._reminders(campus, year, roster_of(rosters, site), end, now_ms)
        return len(self.outbox.owe(owed))

    def _reminders(self, campus: Campus, year: int, roster: RosterFile, end_ms: int, now_ms: int) -> list[Reminder]:
        people = {p.id: p for p in roster.people}
        ids = [p for p in (self.settings.remind or roster.bulletin) if p in people]
        if not ids:
            log.warning("nobody to remind of the annual return: list person ids under [returns] remind or "
                        "bulletin: in the duty roster", extra={"site": campus.site.id})
            return []
        duty = DutyRoster(roster, CampusCalendar(campus.calendar), ZoneInfo(campus.site.timezone))
        title, body = wording(campus, year, deadline_of(year, self.settings))
        out = []
        for pid in ids:
            person = people[pid]
            try:
                urls = duty.urls(person)
            except (KeyError, IndexError, ValueError) as exc:
                log.warning("a person's channel is not a template of {email}, {phone} and {id}",
                            extra={"person": pid, "error": str(exc)})
                continue
            out += [Reminder(site=campus.site.id, year=year, person=pid, channel=channel, name=person.name, url=url,
                             title=title, body=body, deadline_ms=end_ms, next_ms=now_ms, created_ms=now_ms)
                    for channel, url in urls]
        return out

    def send_due(self) -> int:
        now_ms = self.clock.now_ms()
        sent = 0
        for n in self.outbox.due(now_ms):
            if now_ms >= n.deadline_ms:
                self.outbox.give_up(n, "not sent before the deadline was over: it would ask for what is already late")
                continue
            try:
                self._send(n)
            except Exception as exc:
                err = str(exc) if isinstance(exc, SendFailed) else f"{type(exc).__name__}: {exc}"
                log.warning("annual return reminder failed", extra={"person": n.person, "channel": n.channel,
                                                                    "error": err})
                self.outbox.failed(n, err, self.clock.now_ms())
            else:
                self.outbox.sent(n, self.clock.now_ms())
                sent += 1
        return sent

    def _send(self, n: Reminder) -> None:
        notice = Notice(id=0, alert_id=0, event="annual_return", level=0, channel=n.channel, recipient=n.person,
                        url=n.url, title=n.title, body=n.body,
                        payload={"event": "annual_return", "site": n.site, "year": n.year, "person": n.person},
                        attempts=n.attempts, status=n.status, last_error=n.last_error, created_ms=n.created_ms,
                        sent_ms=None)
        self._sender.send(notice)

    def keep_checking(self, every_s: float) -> None:
        """A pass every ``every_s`` (the first one ``every_s`` after start) in a thread of its own until
        :meth:`close`; 0: never."""
        self._loop.start(every_s)

    def close(self) -> None:
        self._loop.stop()
        with self._lock:
            self.outbox.close()
