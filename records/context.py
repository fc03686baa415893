"""What every record is taken in: the site as the asker sees it (``Context``), and the refusal a record gets when
it cannot be taken as sent (``RecordRefused``)."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from alerts.desk import SiteDesk
from alerts.roster import DutyRoster
from campus.errors import MeterwatchError
from campus.model import Campus


class RecordRefused(MeterwatchError):
    """A record that cannot be taken as sent (an unknown item, a step out of order): 422 with what to fix."""


@dataclass(frozen=True, slots=True)
class Context:
    """A site as the records see it: its campus (as the asker sees it), time zone, and its alert desk (rules, duty
    roster, alert book; None without alerts)."""

    campus: Campus
    tz: ZoneInfo
    desk: SiteDesk | None

    @property
    def site(self) -> str:
        return self.campus.site.id

    @property
    def roster(self) -> DutyRoster | None:
        return self.desk.roster if self.desk is not None else None

    def sees(self, site: str, zone: str | None, building: str | None) -> bool:
        """Is a record of ``site`` in ``building`` (else in ``zone``; neither: the site as a whole) in this view?"""
        if site != self.site:
            return False
        if building is not None:
            return self.campus.building(building) is not None
        return zone is None or zone == "default" or any(z.id == zone for z in self.campus.zones)
