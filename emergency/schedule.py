"""When each plan is to be drilled (演练计划), on the school calendar, and which drills are due or overdue.

The plain rules:
- a plan says how often it is drilled: each ``term`` (the default: the terms of the campus file), each ``month``,
  each ``year``, or ``never``;
- a drill is due while the current window (this term, month or year) has none of that plan yet;
- it is overdue when the last window ended (plus ``[records] grace_days``) without one and none has been started
  since: an overdue drill raises a ``data`` alert (应急演练逾期未开展), routed like an overdue round, which the
  next drill of that plan settles;
- outside every term (the vacations) nothing falls due each term: the next term's window opens on its first day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from alerts.book import NewAlert
from alerts.plans import Plan
from alerts.rules import RECORD_RULES
from campus.calendar import CampusCalendar
from campus.labels import Name
from records.rounds import Window  # a window of days, as a check round's

RULE = "drill-overdue"
EVERY = {"term": Name(zh="每学期", en="each term"), "month": Name(zh="每月", en="each month"),
         "year": Name(zh="每年", en="each year"), "never": Name(zh="不定期", en="not scheduled")}


@dataclass(frozen=True, slots=True)
class DueDrill:
    plan: Plan
    window: Window              # the window it is due in (overdue: the one that ended without it)
    status: str                 # due | overdue
    last_ms: int | None         # the plan's newest drill

    @property
    def subject(self) -> str:
        return f"drill:{self.plan.id}"


def _month(day: dt.date) -> Window:
    nxt = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return Window(day.replace(day=1), nxt - dt.timedelta(days=1))


def windows(every: str, cal: CampusCalendar, today: dt.date) -> tuple[Window | None, Window | None]:
    """(the window holding ``today``, the last one that ended before it); None where there is none."""
    if every == "month":
        now = _month(today)
        return now, _month(now.start - dt.timedelta(days=1))
    if every == "year":
        return (Window(dt.date(today.year, 1, 1), dt.date(today.year, 12, 31)),
                Window(dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31)))
    if every == "term":
        terms = [Window(s, e) for s, e in sorted(cal.terms)]
        term = next((w for w in terms if w.start <= today <= w.end), None)
        ended = [w for w in terms if w.end < today]
        return term, ended[-1] if ended else None
    return None, None


def _day(ms: int, tz: dt.tzinfo) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000, tz).date()


def due_drills(plans: list[Plan], calendar: dict[str, Any] | None, last: dict[str, int], today: dt.date,
               tz: dt.tzinfo, grace_days: int = 0) -> list[DueDrill]:
    """The plans whose drill is due now or overdue. ``last``: plan → when its newest drill started."""
    cal = CampusCalendar(calendar)
    out: list[DueDrill] = []
    for plan in plans:
        now, past = windows(plan.drill, cal, today)
        newest = last.get(plan.id)
        done = _day(newest, tz) if newest is not None else None
        if now is not None and done is not None and done >= now.start:
            continue   # drilled in this window
        if past is not None and (done is None or done < past.start) and \
                past.end + dt.timedelta(days=grace_days) < today:
            out.append(DueDrill(plan, past, "overdue", newest))
        elif now is not None:
            out.append(DueDrill(plan, now, "due", newest))
    return out


def overdue_alert(d: DueDrill, language: str, now_ms: int) -> NewAlert:
    """The alert an overdue drill raises: the plan, the window it was due in, routed like an overdue round (the
    site's, no building: the office's electrician on duty first)."""
    rule = RECORD_RULES[RULE]
    every = EVERY.get(d.plan.drill, EVERY["term"])
    detail = Name(zh=f"{d.plan.name.zh}应{every.zh}演练一次，{d.window.start} 至 {d.window.end} 未开展",
                  en=f"{d.plan.name.en} is to be drilled {every.en}; none from {d.window.start} to {d.window.end}")
    texts = {"subject": Name(zh=f"{d.plan.name.zh} · 演练", en=f"{d.plan.name.en} · drill"), "detail": detail,
             "reading": Name(zh=f"应于 {d.window.end} 前完成演练", en=f"a drill was due by {d.window.end}"),
             "limit": Name(zh=f"应于 {d.window.end} 前完成", en=f"due by {d.window.end}")}
    return NewAlert(rule=RULE, category=rule.category.value, severity=rule.severity.value, subject=d.subject,
                    detail=detail.text(language), ts=now_ms, limit=str(d.window.end), texts=texts)
