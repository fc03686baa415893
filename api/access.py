"""What a token may see: its scope (sites, and zones or buildings inside them), applied to the registry.

A token with no scope sees every site. A scope of sites sees those sites whole; adding zones or
buildings narrows each of those sites to the buildings of those zones plus the buildings named
(their devices, alerts and use). What a token may not see does not exist for it: the API answers
404, as for an id nobody has.
"""

from __future__ import annotations

from campus.errors import Invalid, MeterwatchError, NotFound
from campus.model import Campus, Device
from campus.registry import Registry
from campus.scope import Scope

__all__ = ["Access", "AmbiguousSite", "Scope", "SharedDeviceId", "check_scope", "narrowed"]


def narrowed(campus: Campus, scope: Scope) -> Campus:
    """The campus as ``scope`` sees it: only its buildings, their zones and devices (targets of departments
    stay: they are the site's). A virtual meter is seen only where every real meter it is made of is."""
    if not scope.partial:
        return campus
    zone_of = {b: z.id for z in campus.zones for b in z.buildings}
    seen = {b.id for b in campus.buildings if scope.building(campus.site.id, b.id, zone_of.get(b.id))}
    devices = [d for d in campus.devices if d.building in seen]
    if any(d.virtual is not None for d in devices):  # a virtual meter shows its terms' use: all of them, or it is not
        visible = {d.id for d in devices}       # there (public area = incomer − buildings would show the others)
        real = campus.virtual_real_terms()
        devices = [d for d in devices if d.virtual is None or all(t in visible for t in real.get(d.id, {}))]
    return campus.model_copy(update={
        "buildings": [b for b in campus.buildings if b.id in seen],
        "zones": [z.model_copy(update={"buildings": [b for b in z.buildings if b in seen]})
                  for z in campus.zones if any(b in seen for b in z.buildings)],
        "devices": devices,
        "gateways": [g for g in campus.gateways if g.building is None or g.building in seen]})


class Access:
    """The registry as one token sees it."""

    def __init__(self, registry: Registry, scope: Scope) -> None:
        self.registry, self.scope = registry, scope

    def campuses(self) -> dict[str, Campus]:
        """Every site it may see, narrowed to what it may see inside."""
        return {s: narrowed(c, self.scope) for s, c in self.registry.campuses.items() if self.scope.site(s)}

    def site(self, site: str | None) -> Campus:
        """One site it may see (narrowed); None: the only one it may see. NotFound for a site it may not see,
        AmbiguousSite (ask which) when it may see several."""
        campuses = self.campuses()
        if site is None:
            if len(campuses) == 1:
                return next(iter(campuses.values()))
            if not campuses:
                raise NotFound("no site this token may see")
            raise AmbiguousSite(f"this service has {len(campuses)} sites: add site=ID "
                                f"({', '.join(list(campuses)[:8])}{', ...' if len(campuses) > 8 else ''})")
        campus = campuses.get(site)
        if campus is None:
            raise NotFound(f"no site {site!r}")
        return campus

    def device(self, device_id: str, site: str | None = None) -> tuple[Campus, Device]:
        """A device it may see; without ``site``, the one such device with this id."""
        campuses = self.campuses() if site is None else {site: self.site(site)}
        hits = [(c, d) for c in campuses.values() for d in c.devices if d.id == device_id]
        if not hits:
            raise NotFound(f"no device {device_id!r}" + (f" in site {site!r}" if site else ""))
        if len(hits) > 1:
            raise SharedDeviceId(f"device id {device_id!r} is used in sites {', '.join(c.site.id for c, _ in hits)}: "
                                f"address it as /api/v1/sites/SITE/devices/{device_id}")
        return hits[0]

    def devices(self, site: str | None = None) -> list[tuple[Campus, Device]]:
        """Its devices in every site it may see, or in ``site``."""
        campuses = self.campuses() if site is None else {site: self.site(site)}
        return [(c, d) for c in campuses.values() for d in c.devices]

    def sees(self, site: str, building: str | None, zone: str | None = None) -> bool:
        """May it see something of ``site`` in ``building`` (None: about ``zone`` as a whole, or with no zone
        either about the site or a department: only a token not narrowed to zones or buildings)? The one rule,
        :meth:`campus.scope.Scope.sees`, which the records apply too."""
        if building is not None and zone is None:
            campus = self.registry.campuses.get(site)
            zone = campus.zone_of(building) if campus else None
        return self.scope.sees(site, building, zone)

    def topics(self, prefix: str, site: str | None) -> list[str] | None:
        """The topic prefixes of what it may see (dead letters, evaluation failures): None for all (an unscoped
        token, no site=); a site's (prefix/site/), or, narrowed to zones or buildings, each of its devices'
        (prefix/site/device/). A message whose topic names no site it may see (or none at all) is not its."""
        if self.scope.everything and site is None:
            return None
        sites = [site] if site is not None else list(self.campuses())
        if site is not None:
            self.site(site)  # 404 for a site it may not see
        if not self.scope.partial:
            return [f"{prefix}/{s}/" for s in sites]
        return [f"{prefix}/{c.site.id}/{d.id}/" for s in sites for c, d in self.devices(s)]


class AmbiguousSite(MeterwatchError):
    """The request needs a site and there are several: answered 422 with the ids."""


class SharedDeviceId(AmbiguousSite):
    """A device id used in several sites the token sees, asked for without a site: answered 409 with the sites."""


def check_scope(scope: Scope, registry: Registry) -> None:
    """Names that exist: a mistyped site or zone would make a token that sees nothing."""
    campuses = registry.campuses
    if not campuses or scope.everything:
        return  # nothing loaded yet: nothing to check against
    unknown = sorted(s for s in scope.sites if s not in campuses)
    if unknown:
        raise Invalid(f"no site {', '.join(unknown)} in the registry (sites: {', '.join(list(campuses)[:10])})")
    inside = [c for s, c in campuses.items() if scope.site(s)]
    zones = {z.id for c in inside for z in c.zones}
    buildings = {b.id for c in inside for b in c.buildings}
    for what, given, known in (("zone", scope.zones, zones), ("building", scope.buildings, buildings)):
        missing = sorted(given - known)
        if missing:
            raise Invalid(f"no {what} {', '.join(missing)} in {', '.join(s for s in campuses if scope.site(s))} "
                              f"(known: {', '.join(sorted(known)[:12])})")
