"""What a token may see: its scope (sites, and zones or buildings inside them), and the one rule every reader of
it applies, the API's access checks, the alerts' lists and the records' alike (``Scope.sees``).

A token with no scope sees every site. A scope of sites sees those sites whole; adding zones or buildings narrows
each of those sites to the buildings of those zones plus the buildings named. Something about the site as a
whole (a department, a site-wide hazard) is seen only by a token not narrowed inside its site; something about
a zone as a whole (a zone's round) only by a token whose scope names that zone (or one not narrowed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from campus.contract import ID_PATTERN
from campus.errors import Invalid


@dataclass(frozen=True, slots=True)
class Scope:
    sites: frozenset[str] = frozenset()
    zones: frozenset[str] = frozenset()
    buildings: frozenset[str] = frozenset()

    @classmethod
    def of(cls, sites: Iterable[str] = (), zones: Iterable[str] = (), buildings: Iterable[str] = ()) -> Scope:
        for what, ids in (("site", sites), ("zone", zones), ("building", buildings)):
            for i in ids:
                if not re.fullmatch(ID_PATTERN, i):
                    raise Invalid(f"--{what} {i!r}: ids use letters, digits, _ . - (as in the campus file)")
        return cls(frozenset(sites), frozenset(zones), frozenset(buildings))

    @property
    def everything(self) -> bool:
        return not (self.sites or self.zones or self.buildings)

    @property
    def partial(self) -> bool:
        """Narrowed inside its sites to some zones or buildings."""
        return bool(self.zones or self.buildings)

    def site(self, site: str) -> bool:
        return not self.sites or site in self.sites

    def sees(self, site: str, building: str | None, zone: str | None) -> bool:
        """The one rule: may it see (and, with the role for it, change) something of ``site`` about ``building``
        in ``zone``? ``building`` None: about ``zone`` as a whole; both None: about the site as a whole. Pass the
        building's zone when there is a building (a zone-scoped token sees its zone's buildings)."""
        if not self.site(site):
            return False
        if not self.partial:
            return True
        return (building is not None and building in self.buildings) or (zone is not None and zone in self.zones)

    def building(self, site: str, building: str, zone: str | None) -> bool:
        """A building (in ``zone``): :meth:`sees`."""
        return self.sees(site, building, zone)

    def alert(self, site: str, building: str | None, zone: str | None) -> bool:
        """An alert about ``building`` (None: a zone, a department or the site) in ``zone``: :meth:`sees`."""
        return self.sees(site, building, zone)

    def to_json(self) -> str | None:
        if self.everything:
            return None
        return json.dumps({"sites": sorted(self.sites), "zones": sorted(self.zones),
                           "buildings": sorted(self.buildings)})

    @classmethod
    def from_json(cls, text: str | None) -> Scope:
        if not text:
            return cls()
        doc = json.loads(text)
        return cls(frozenset(doc.get("sites", ())), frozenset(doc.get("zones", ())),
                   frozenset(doc.get("buildings", ())))

    def describe(self) -> str:
        if self.everything:
            return "all sites"
        parts = [f"sites {', '.join(sorted(self.sites))}" if self.sites else "all sites"]
        if self.zones:
            parts.append(f"zones {', '.join(sorted(self.zones))}")
        if self.buildings:
            parts.append(f"buildings {', '.join(sorted(self.buildings))}")
        return "; ".join(parts)
