"""Overdue drills become alerts, and finished drills get their record filed: every ``[records] check_s``, each
site's plans are held against the school calendar (``emergency.schedule``); a plan whose drill is overdue raises (or
keeps current) its ``drill-overdue`` alert, routed like an overdue round, and one drilled since (or gone from the
plans file) has it settled; a drill whose alert was resolved has its record (PDF) filed in the site's language."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from alerts.desk import AlertDesk
from app.periodic import Periodic
from campus.clock import Clock
from emergency.drills import Drills
from emergency.incident import drill_record
from emergency.schedule import RULE, due_drills, overdue_alert
from reports.config import ReportSettings


class DrillWatch:
    def __init__(self, alerts: AlertDesk | None, grace_days: int, clock: Clock, report: ReportSettings) -> None:
        self.alerts, self.grace_days, self.clock, self.report = alerts, grace_days, clock, report
        self._loop = Periodic("drills-check", "looking for overdue drills", self.check)

    def check(self) -> int:
        """Raise or settle each plan's drill-overdue alert at every site; how many are overdue."""
        if self.alerts is None:
            return 0
        n = 0
        now = self.clock.now_ms()
        drills = Drills(self.alerts.store)
        for over in drills.unfiled():  # a drill over: its record filed, as it was when it ended
            site_desk = self.alerts.sites().get(over.site)
            if site_desk is not None:
                drill_record(drills, site_desk.book, over, self.alerts.language, now, self.report)
        for site, desk in self.alerts.sites().items():
            plans = desk.book.plans
            if plans is None:
                continue
            tz = ZoneInfo(desk.campus.site.timezone)
            today = dt.datetime.fromtimestamp(now / 1000, tz).date()
            due = due_drills(list(plans.plans.values()), desk.campus.calendar, drills.last_started(site), today, tz,
                             self.grace_days)
            late = {d.plan.id for d in due if d.status == "overdue"}
            for d in due:
                if d.status == "overdue":
                    desk.book.record(overdue_alert(d, self.alerts.language, now), now, repeat=False)
                    n += 1
            for plan in plans.plans:
                if plan not in late:
                    desk.book.settle(RULE, f"drill:{plan}", "the plan has been drilled, or is no longer due", now)
            for a in self.alerts.store.query(site=site, status="open", category="data", limit=10_000):
                if a.rule == RULE and a.subject.removeprefix("drill:") not in plans.plans:
                    desk.book.settle(RULE, a.subject, "the plan is no longer in the plans file", now)
        return n

    def keep_checking(self, every_s: float) -> None:
        self._loop.start(every_s)

    def close(self) -> None:
        self._loop.stop()
