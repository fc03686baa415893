"""The monthly reading round (抄表) for meters read by hand, on the school calendar, and the alert an overdue one
raises.

The plain rules (days in the site's time zone):
- One round per zone a month: every meter read by hand (``manual: true``) in the zone is read once in the calendar
  month. A meter counts as read for a month when it has a reading by hand taken in that month or later.
- It is due by the month's **last workday** on the school calendar: make-up workdays (调休) count, public holidays
  and weekends do not (a month ending on a Sunday is due by the Friday before; ending on 1 October's holiday week,
  by the last workday before it). ``[records] grace_days`` later, a meter still not read is **overdue**.
- A meter never read by hand yet is asked for from the current month on (not blamed for the month before).
- An overdue zone raises one ``data`` alert, ``reading-overdue``, per zone, routed through the duty roster like
  any other (the zone's electrician on duty first, escalating if nobody acknowledges). It names the meters still
  unread; reading them resolves it (a reading entered late, within the next month, still counts).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from alerts.book import NewAlert
from alerts.roster import DutyRoster, Person
from alerts.rules import RECORD_RULES
from campus.calendar import CampusCalendar
from campus.labels import Name
from campus.model import Campus, Device

RULE = "reading-overdue"


@dataclass(frozen=True, slots=True)
class Month:
    start: dt.date
    end: dt.date        # inclusive
    due: dt.date        # the last workday

    @property
    def key(self) -> str:
        return f"{self.start:%Y-%m}"


@dataclass(frozen=True, slots=True)
class MeterDue:
    device: Device
    last_ms: int | None     # the newest reading by hand, if any
    status: str             # done (read this month) | due | overdue


@dataclass(frozen=True, slots=True)
class ZoneRound:
    zone: str
    month: Month            # the month whose reading is asked for (an overdue zone: the month it missed)
    meters: tuple[MeterDue, ...]
    assigned: tuple[Person, ...]

    @property
    def status(self) -> str:
        states = {m.status for m in self.meters}
        return "overdue" if "overdue" in states else "due" if "due" in states else "done"

    @property
    def done(self) -> int:
        return sum(m.status == "done" for m in self.meters)

    @property
    def subject(self) -> str:
        return f"reading:{self.zone}"


def month_of(day: dt.date, cal: CampusCalendar) -> Month:
    start = day.replace(day=1)
    end = day.replace(day=calendar.monthrange(day.year, day.month)[1])
    due = end
    while due > start and "workday" not in cal.tags(due):
        due -= dt.timedelta(days=1)
    return Month(start, end, due)


def manual_meters(campus: Campus) -> dict[str, list[Device]]:
    """Zone → its meters read by hand (zone ``default`` for a building in no zone)."""
    out: dict[str, list[Device]] = {}
    for dev in campus.devices:
        if dev.manual:
            out.setdefault(dev.zone or campus.zone_of(dev.building) or "default", []).append(dev)
    return out


def _ms(day: dt.date, tz: dt.tzinfo) -> int:
    return int(dt.datetime.combine(day, dt.time(0), tz).timestamp() * 1000)


def rounds(campus: Campus, last_read: dict[str, int], today: dt.date, tz: dt.tzinfo, roster: DutyRoster | None,
           grace_days: int = 0) -> list[ZoneRound]:
    """Each zone's reading round as of ``today``. ``last_read``: device → its newest reading by hand (ms)."""
    cal = CampusCalendar(campus.calendar)
    this = month_of(today, cal)
    previous = month_of(this.start - dt.timedelta(days=1), cal)
    out = []
    for zone, devices in manual_meters(campus).items():
        meters = []
        month = this
        for dev in devices:
            last = last_read.get(dev.id)
            if last is not None and last >= _ms(this.start, tz):
                status = "done"
            elif last is not None and last < _ms(previous.start, tz) and \
                    previous.due + dt.timedelta(days=grace_days) < today:
                status, month = "overdue", previous   # last month's reading never came
            elif this.due + dt.timedelta(days=grace_days) < today:
                status = "overdue"                    # this month's deadline has passed too
            else:
                status = "due"
            meters.append(MeterDue(dev, last, status))
        noon = int(dt.datetime.combine(min(today, month.due), dt.time(12), tz).timestamp() * 1000)
        people = tuple(roster.on_duty(zone, noon)) if roster is not None else ()
        out.append(ZoneRound(zone, month, tuple(meters), people))
    return sorted(out, key=lambda r: r.zone)


def overdue_alert(r: ZoneRound, campus: Campus, language: str, now_ms: int, tz: dt.tzinfo) -> NewAlert:
    """One alert for a zone: the meters still unread, and the date they were due by."""
    rule = RECORD_RULES[RULE]
    zone = next((z.name for z in campus.zones if z.id == r.zone), r.zone)
    late = [m for m in r.meters if m.status == "overdue"]
    names = "、".join(m.device.name or m.device.id for m in late[:5]) + (f" 等 {len(late)} 块" if len(late) > 5 else "")
    names_en = ", ".join(m.device.name or m.device.id for m in late[:5]) + (
        f" and {len(late) - 5} more" if len(late) > 5 else "")
    due = r.month.due
    days = max(0, (dt.datetime.fromtimestamp(now_ms / 1000, tz).date() - due).days)
    detail = Name(zh=f"{zone} {r.month.key} 月抄表应于 {due} 前完成，{len(late)} 块表未抄：{names}",
                  en=f"{zone}: the {r.month.key} meter reading was due by {due}; {len(late)} meter"
                     f"{'' if len(late) == 1 else 's'} not read: {names_en}")
    texts = {"subject": Name(zh=f"月度抄表 · {zone}", en=f"Monthly meter reading · {zone}"), "detail": detail,
             "unit": Name(zh="天", en="days"), "limit": Name(zh=f"应于 {due} 前完成", en=f"due by {due}"),
             "reading": Name(zh=f"逾期 {days} 天 · {len(late)} 块表未抄",
                             en=f"{days} day{'' if days == 1 else 's'} late · {len(late)} not read")}
    building = late[0].device.building if len(late) == 1 else None
    return NewAlert(rule=RULE, category=rule.category.value, severity=rule.severity.value, subject=r.subject,
                    detail=detail.text(language), ts=now_ms, zone=r.zone, building=building,
                    device=late[0].device.id if len(late) == 1 else None, value=days, limit=str(due), texts=texts)
