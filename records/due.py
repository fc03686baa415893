"""Which check rounds are due or overdue at a site, and who the duty roster has on them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from alerts.roster import DutyRoster, Person
from campus.calendar import CampusCalendar
from campus.model import Campus
from records.rounds import Every, Place, RoundFile, Template, Window, current, places, windows

LOOKBACK_DAYS = 14    # an overdue round older than this is history (its alert stays until a round settles it)


@dataclass(frozen=True, slots=True)
class DueRound:
    template: Template
    place: Place
    window: Window
    status: str                  # due | overdue
    assigned: tuple[Person, ...]

    @property
    def subject(self) -> str:
        """The overdue alert's subject: one open alert per template and place, whatever the window."""
        return f"round:{self.template.id}:{self.place.key}"


def _covered(done: set[tuple[str, str, str]], template: str, place: Place, window: Window) -> bool:
    day = window.start
    while day <= window.end:
        if (template, place.key, day.isoformat()) in done:
            return True
        day += dt.timedelta(days=1)
    return False


def _noon(day: dt.date, tz: dt.tzinfo) -> int:
    return int(dt.datetime.combine(day, dt.time(12), tz).timestamp() * 1000)


def due_rounds(templates: RoundFile, campus: Campus, done: set[tuple[str, str, str]], today: dt.date,
               tz: dt.tzinfo, roster: DutyRoster | None, grace_days: int = 0) -> list[DueRound]:
    """Rounds whose window holds ``today`` and are not recorded yet (due), and rounds whose window ended in the
    last LOOKBACK_DAYS without one (overdue), oldest first. ``done``: (template, place key, day) recorded."""
    cal = CampusCalendar(campus.calendar)
    out: list[DueRound] = []
    for t in templates.rounds:
        if t.every is Every.ON_DEMAND:
            continue
        spots = places(t, campus)
        past = windows(t.every, cal, today - dt.timedelta(days=LOOKBACK_DAYS), today - dt.timedelta(days=1))
        now = current(t.every, cal, today)
        for w in [*past, *([now] if now is not None else [])]:
            late = w.end + dt.timedelta(days=grace_days) < today
            if not late and w is not now:
                continue
            for place in spots:
                if _covered(done, t.id, place, w):
                    continue
                on = min(today, w.end)
                people = tuple(roster.on_duty(place.zone, _noon(on, tz))) if roster is not None else ()
                out.append(DueRound(t, place, w, "overdue" if late else "due", people))
    return out
