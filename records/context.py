"""What every record is taken in: the site as the asker sees it (``Context``), and the refusal a record gets when
it cannot be taken as sent (``RecordRefused``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from alerts.desk import SiteDesk
from alerts.roster import DutyRoster
from campus.errors import MeterwatchError
from campus.model import Campus
from campus.scope import Scope


class RecordRefused(MeterwatchError):
    """A record that cannot be taken as sent (an unknown item, a step out of order): 422 with what to fix."""


@dataclass(frozen=True, slots=True)
class Context:
    """A site as the records see it: its campus (as the asker sees it), time zone, its alert desk (rules, duty
    roster, alert book; None without alerts), and the asker's scope (everything for the server's own work)."""

    campus: Campus
    tz: ZoneInfo
    desk: SiteDesk | None
    scope: Scope = field(default_factory=Scope)

    @property
    def site(self) -> str:
        return self.campus.site.id

    @property
    def roster(self) -> DutyRoster | None:
        return self.desk.roster if self.desk is not None else None

    def sees(self, site: str, zone: str | None, building: str | None) -> bool:
        """Is a record of ``site`` in ``building`` (else about ``zone`` as a whole; neither: the site as a whole)
        the asker's to see and change? The rule the API applies everywhere (``Scope.sees``): a token narrowed to
        zones or buildings does not see a site-wide record, nor a zone's record unless it has that zone."""
        if site != self.site:
            return False
        if building is not None and zone is None:
            zone = self.campus.zone_of(building)
        return self.scope.sees(site, building, zone)
