"""Which buses and meters this gateway reads: from the campus file (the server's), or from meterwatch's API
(``GET /api/v1/gateways/{id}/campus?site=S`` with the gateway's token, ``If-None-Match`` so that an unchanged
list costs a 304). Either is read again while the gateway runs; :func:`changed_buses` says which buses to
reopen (only those whose line or meters changed)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from pydantic import ValidationError

from campus.errors import ConfigError
from campus.model import Bus, Campus, Device, Gateway, Site, load_sites

log = logging.getLogger("meterwatch.gateway.devicelist")


@dataclass(frozen=True)
class GatewayView:
    """One gateway of one site: its buses and the meters on each."""

    site: Site
    gateway: Gateway
    devices: tuple[Device, ...]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)

    def buses(self) -> dict[str, tuple[Bus, tuple[Device, ...]]]:
        return {b.name: (b, tuple(d for d in self.devices if d.meter is not None and d.meter.bus == b.name))
                for b in self.gateway.buses}


def pick(campuses: list[Campus], gateway_id: str, site: str | None = None, source: str = "campus file") -> GatewayView:
    """The view of ``gateway_id`` (in ``site``, if given). Errors say what to fix."""
    found = [c for c in campuses if (site is None or c.site.id == site)
             and any(g.id == gateway_id for g in c.gateways)]
    if not found:
        where = f"site {site!r} of " if site else ""
        known = sorted({g.id for c in campuses if site is None or c.site.id == site for g in c.gateways})
        raise ConfigError(f"{where}{source} has no gateway {gateway_id!r}: check [gateway] id (gateways there: "
                          f"{', '.join(known[:10]) or 'none'})")
    if len(found) > 1:
        raise ConfigError(f"gateway {gateway_id!r} is in sites {', '.join(c.site.id for c in found)}: set "
                          "[gateway] site")
    c = found[0]
    gw = next(g for g in c.gateways if g.id == gateway_id)
    devices = tuple(d for d in c.devices if d.gateway == gateway_id and d.meter is not None)
    return GatewayView(c.site, gw, devices)


def changed_buses(old: GatewayView | None, new: GatewayView) -> set[str]:
    """Names of the buses to (re)open or close: new, gone, or with a different line or meters."""
    before = old.buses() if old is not None else {}
    after = new.buses()
    return {name for name in set(before) | set(after) if before.get(name) != after.get(name)}


class FileDeviceList:
    """The campus file (or directory), read again when it changes (its modification time)."""

    def __init__(self, path: Path, gateway_id: str, site: str | None) -> None:
        self.path, self.gateway_id, self.site = path, gateway_id, site
        self._stamp: float | None = None

    def _mtime(self) -> float:
        if self.path.is_dir():
            return max((p.stat().st_mtime for p in self.path.iterdir()), default=0.0)
        return self.path.stat().st_mtime

    def fetch(self) -> GatewayView | None:
        """The view, or None when the file has not changed since the last fetch."""
        stamp = self._mtime()
        if stamp == self._stamp:
            return None
        view = pick(load_sites(self.path), self.gateway_id, self.site, str(self.path))
        self._stamp = stamp
        return view


class ApiDeviceList:
    """``GET {server}/api/v1/gateways/{id}/campus?site=S`` with the token; ETag / If-None-Match."""

    def __init__(self, server: str, token: str, gateway_id: str, site: str | None, *,
                 timeout_s: float = 20, verify: bool | str = True, cache: Path | None = None) -> None:
        self.url = f"{server}/api/v1/gateways/{gateway_id}/campus"
        self.gateway_id, self.site = gateway_id, site
        self.cache = cache  # the last list the API gave: a box that boots while the server is away starts with it
        self._fetched = False
        self._headers = {"Authorization": f"Bearer {token}"}
        self._etag: str | None = None
        self._timeout, self._verify = timeout_s, verify

    def fetch(self) -> GatewayView | None:
        """The view, or None when the server says it has not changed (304). Raises ConfigError in words; the
        first fetch falls back to the cached list, if there is one."""
        try:
            view = self._fetch()
        except ConfigError as exc:
            if self._fetched or self.cache is None or not self.cache.is_file():
                raise
            log.warning("device list from the API not read; starting with the one kept from last time",
                        extra={"error": str(exc), "cache": str(self.cache)})
            view = pick([Campus.model_validate(json.loads(self.cache.read_text(encoding="utf-8")))],
                        self.gateway_id, self.site, str(self.cache))
        self._fetched = True
        return view

    def _fetch(self) -> GatewayView | None:
        headers = dict(self._headers)
        if self._etag is not None:
            headers["If-None-Match"] = self._etag
        try:
            r = httpx.get(self.url, params={"site": self.site} if self.site else None, headers=headers,
                          timeout=self._timeout, verify=self._verify)
        except httpx.HTTPError as exc:
            raise ConfigError(f"cannot reach {self.url}: {exc}; check [gateway] server and the network") from exc
        if r.status_code == 304:
            return None
        if r.status_code in (401, 403):
            raise ConfigError(f"{self.url}: {r.status_code}: the token is refused or does not cover gateway "
                              f"{self.gateway_id!r}'s devices; make one with meterwatch token create")
        if r.status_code == 404:
            raise ConfigError(f"{self.url}: no gateway {self.gateway_id!r} (site {self.site!r}): check [gateway] id "
                              "and site")
        if r.status_code != 200:
            raise ConfigError(f"{self.url}: HTTP {r.status_code}: {r.text[:200]}")
        try:
            campus = Campus.model_validate(r.json())
        except (ValidationError, ValueError) as exc:
            raise ConfigError(f"{self.url}: the campus document is not valid: {str(exc)[:300]}") from exc
        view = pick([campus], self.gateway_id, self.site, self.url)
        self._etag = r.headers.get("ETag")
        if self.cache is not None:
            partial = self.cache.with_suffix(".tmp")
            partial.write_text(r.text, encoding="utf-8")
            os.replace(partial, self.cache)
        return view
