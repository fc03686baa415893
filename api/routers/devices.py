from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, BackgroundTasks, HTTPException, Path, Query, Request, Response
from pydantic import ValidationError

from api.access import Access
from api.deps import AccessDep, Admin, LanguageDep, PageDep, ServiceDep
from api.schemas import DeviceCreate, DevicePublic, DeviceUpdate, ReadingPublic, ReadingsPublic
from api.schemas.devices import DeviceHealthPublic
from api.timefmt import from_ms, parse_interval, to_ms
from app.meter_profiles import known_profiles, unknown_profile
from campus.contract import Kind
from campus.errors import AlreadyExists, Invalid, NotFound
from campus.items import item_shares, item_text, shares_name
from campus.model import Campus, Department, Device
from campus.silence import reason
from campus.virtual import parse
from deploy.mosquitto import keep_broker_current
from ingest.service import IngestService
from ingest.status import Presence

router = APIRouter(tags=["devices"])
DeviceId = Annotated[str, Path(max_length=64, description="device id")]
# every route below answers at /devices/{id} (the id unique among the sites the token sees, or ?site=) and at
# /sites/{site}/devices/{id}
# no Query() or Path() marker: the same parameter is the path's {site} on the second form and ?site= on the first
SiteArg = str | None


def _health(campus: Campus, p: Presence | None, tz: ZoneInfo, language: str) -> DeviceHealthPublic | None:
    """The gateway's last poll of the meter, its reason in ``language``, times in the site's zone."""
    h = p.health if p is not None else None
    if h is None:
        return None
    gw = next((g for g in campus.gateways if g.id == h.gateway), None)
    return DeviceHealthPublic(ok=h.ok, code=h.code, reason=reason(h.ok, h.code, h.error, language), error=h.error,
                              last_answer=from_ms(h.last_answer, tz), success_rate=h.success_rate,
                              gateway=h.gateway, gateway_name=gw.name if gw is not None and gw.name else h.gateway,
                              bus=h.bus, at=from_ms(h.ts, tz))


def _public(campus: Campus, dev: Device, presence: dict[str, Presence], tz: ZoneInfo,
            language: str = "zh-CN") -> DevicePublic:
    building = campus.building(dev.building)
    shares = campus.items_of(dev)
    item = item_text(shares) if shares else None
    p = presence.get(dev.id)
    status: Literal["online", "offline", "unknown"] = (
        "unknown" if p is None or p.online is None else "online" if p.online else "offline")
    return DevicePublic(id=dev.id, name=dev.name, kind=dev.kind, site=campus.site.id, building=dev.building,
                        department=building.department if building else Department.OTHER, zone=dev.zone or "default",
                        interval_s=dev.interval_s, multiplier=dev.multiplier, rated_capacity=dev.rated_capacity,
                        role=dev.role, parent=dev.parent, gateway=dev.gateway, meter=dev.meter, manual=dev.manual,
                        item=item, item_name=shares_name(shares, language) if shares else None,
                        item_default=item is not None and dev.item is None, virtual=dev.virtual, status=status,
                        last_seen=from_ms(p.last_seen_ms if p else None, tz))


def _viewed(campus: Campus, dev: Device, presence: dict[str, Presence], tz: ZoneInfo,
            language: str = "zh-CN") -> DevicePublic:
    """The public view with the meter's health, its reason in ``language``."""
    out = _public(campus, dev, presence, tz, language)
    out.health = _health(campus, presence.get(dev.id), tz, language)
    return out


def _found(access: Access, device_id: str, site: str | None) -> tuple[Campus, Device]:
    return access.device(device_id, site)


def _one(service: IngestService, campus: Campus, device_id: str, language: str = "zh-CN") -> DevicePublic:
    dev = service.registry.device(device_id, campus.site.id)
    return _viewed(campus, dev, service.presence.of_site(campus.site.id), ZoneInfo(campus.site.timezone), language)


@router.get("/devices", response_model=list[DevicePublic],
            summary="Devices with status, last seen and why a meter is silent (health), a page at a time "
                    "(site=, building=, zone=, kind= filter; lang= for the reasons' words)")
def list_devices(service: ServiceDep, access: AccessDep, page: PageDep, response: Response, language: LanguageDep,
                 site: SiteArg = None,
                 building: Annotated[str | None, Query(max_length=64)] = None,
                 zone: Annotated[str | None, Query(max_length=64)] = None,
                 kind: Annotated[Kind | None, Query()] = None) -> list[DevicePublic]:
    chosen = _matching(access, site, building, zone, kind)
    shown = page.of(chosen, response)
    presence: dict[str, dict[str, Presence]] = {}
    out = []
    for campus, dev in shown:
        sid = campus.site.id
        if sid not in presence:
            presence[sid] = service.presence.of_site(sid)
        out.append(_viewed(campus, dev, presence[sid], ZoneInfo(campus.site.timezone), language))
    return out


def _matching(access: Access, site: str | None, building: str | None, zone: str | None,
              kind: Kind | None) -> list[tuple[Campus, Device]]:
    pairs = access.devices(site)
    return [(c, d) for c, d in pairs if (building is None or d.building == building)
            and (zone is None or d.zone == zone) and (kind is None or d.kind is kind)]


def get_device(device_id: DeviceId, service: ServiceDep, access: AccessDep, language: LanguageDep,
               site: SiteArg = None) -> DevicePublic:
    campus, _ = _found(access, device_id, site)
    return _one(service, campus, device_id, language)


def readings(device_id: DeviceId, service: ServiceDep, access: AccessDep, request: Request,
             site: SiteArg = None,
             start: Annotated[datetime | None, Query(description="RFC 3339; default end − 24 h")] = None,
             end: Annotated[datetime | None, Query(description="RFC 3339; default now")] = None,
             interval: Annotated[str | None, Query(description="bucket size, e.g. 15m, 1h, 1d; omit for raw")] = None,
             agg: Annotated[Literal["mean", "min", "max", "last"], Query()] = "mean",
             limit: Annotated[int, Query(ge=1, description="rows at most; up to [api] max_rows")] = 10_000,
             ) -> ReadingsPublic:
    cap = int(request.app.state.settings.api.max_rows)
    if limit > cap:
        raise HTTPException(422, f"limit={limit}: at most {cap} rows a request ([api] max_rows); narrow start/end "
                                 f"or ask for buckets with interval=1h")
    campus, dev = _found(access, device_id, site)
    tz = ZoneInfo(campus.site.timezone)
    end_ms = to_ms(end, tz) if end else int(time.time() * 1000) + 1
    start_ms = to_ms(start, tz) if start else end_ms - 86_400_000
    if start_ms >= end_ms:
        raise HTTPException(422, "start must be before end")
    interval_ms = parse_interval(interval) * 1000 if interval else None
    if interval_ms and (end_ms - start_ms) // interval_ms > cap:
        raise HTTPException(422, f"{(end_ms - start_ms) // interval_ms} buckets is over the {cap} row limit "
                                 f"([api] max_rows): choose a larger interval or a shorter range")
    offset_ms = 0
    if interval_ms:  # buckets of a day or more start at local midnight
        offset = datetime.fromtimestamp(start_ms / 1000, tz).utcoffset()
        offset_ms = -int(offset.total_seconds() * 1000) if offset else 0
    samples = service.store.readings(campus.site.id, dev.id, dev.kind, start_ms, end_ms, interval_ms=interval_ms,
                                     agg=agg, offset_ms=offset_ms, limit=limit)
    by_hand = _by_hand(request, campus.site.id, dev, [s.ts for s in samples]) if interval_ms is None else {}
    out = [ReadingPublic(ts=from_ms(s.ts, tz), seq=s.seq, values=s.values, manual=s.ts in by_hand or (
        interval_ms is not None and dev.manual), read_by=by_hand.get(s.ts)) for s in samples]
    return ReadingsPublic(device=dev.id, kind=dev.kind, start=from_ms(start_ms, tz), end=from_ms(end_ms, tz),
                          interval_s=interval_ms // 1000 if interval_ms else None,
                          agg=agg if interval_ms else None, count=len(out), readings=out)


def latest(device_id: DeviceId, service: ServiceDep, access: AccessDep, request: Request,
           site: SiteArg = None) -> ReadingPublic:
    campus, dev = _found(access, device_id, site)
    sample = service.store.latest(campus.site.id, dev.id, dev.kind)
    if sample is None:
        raise HTTPException(404, f"device {device_id!r} has no readings yet")
    tz = ZoneInfo(campus.site.timezone)
    by_hand = _by_hand(request, campus.site.id, dev, [sample.ts])
    return ReadingPublic(ts=from_ms(sample.ts, tz), seq=sample.seq, values=sample.values, manual=sample.ts in by_hand,
                         read_by=by_hand.get(sample.ts))


def _by_hand(request: Request, site: str, dev: Device, stamps: list[int]) -> dict[int, str]:
    """Of ``stamps``, the readings taken by hand (抄表), each with who read it (joined on site, device and ts)."""
    records = getattr(request.app.state, "records", None)
    if not dev.manual or records is None:
        return {}
    return {ts: row.read_by for ts, row in records.manual.at(site, dev.id, stamps).items()}


def _save(change: Callable[[], None], request: Request, later: BackgroundTasks) -> None:
    """Make a registry change; then, with [broker] manage, the broker's files follow (after the answer)."""
    try:
        change()
    except ValidationError as exc:
        raise HTTPException(422, "; ".join(f"{'.'.join(map(str, e['loc'])) or 'device'}: "
                                           f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors())) from exc
    later.add_task(keep_broker_current, request.app.state.settings)


def _inside(access: Access, campus: Campus, device: dict[str, Any]) -> None:
    """What a device names lies inside the caller's scope: its building and zone, its parent meter and its gateway
    (else 404, as for anything outside); and its zone is its building's (else 422)."""
    site, building, zone = campus.site.id, device["building"], device.get("zone")
    own = campus.zone_of(building)
    if zone is not None and own is not None and zone != own:
        raise Invalid(f"zone {zone!r}: building {building!r} is in zone {own!r}, and a device's zone is its "
                      "building's (leave zone out to follow the building)")
    if not access.sees(site, building, zone or own):
        raise NotFound(f"no building {building!r} in site {site!r}")
    if device.get("parent"):
        access.device(device["parent"], site)  # NotFound for a meter it may not see
    if device.get("virtual"):
        try:
            terms = parse(device["virtual"])
        except ValueError as exc:
            raise Invalid(f"virtual: {exc}") from None
        for term in terms:  # a virtual meter shows its terms' use: each must be one the token may see
            access.device(term, site)
    gateway = device.get("gateway")
    if gateway and access.scope.partial:
        g = next((g for g in campus.gateways if g.id == gateway), None)
        if g is None or g.building is None or not access.sees(site, g.building):
            raise NotFound(f"no gateway {gateway!r} in site {site!r}")


def _profile_known(given: dict[str, Any]) -> None:
    """A meter link given in the request names a Modbus profile the gateway ships (else 422); see
    :mod:`app.meter_profiles` for the hook that checks only the name's shape until the profiles are there."""
    meter = given.get("meter")
    said = unknown_profile(meter.get("profile"), known_profiles()) if isinstance(meter, dict) else None
    if said is not None:
        raise Invalid(f"meter.profile: {said}")


def _item(fields: dict[str, Any], kind: Kind) -> None:
    """An item given by its name (照明插座用电) or code becomes its code, shares of items their canonical text
    (01A00 60%, 01B00 40%), checked against the device's kind (422)."""
    if fields.get("item") is not None:
        try:
            fields["item"] = item_text(item_shares(fields["item"], kind))
        except ValueError as exc:
            raise Invalid(f"item: {exc}") from None


def create_device(body: DeviceCreate, service: ServiceDep, access: AccessDep, request: Request,
                  later: BackgroundTasks, site: SiteArg = None) -> DevicePublic:
    campus = access.site(site)
    fields = body.model_dump(exclude_unset=True)
    _item(fields, body.kind)
    _inside(access, campus, fields)
    _profile_known(fields)

    def add() -> None:
        try:
            service.registry.add_device(Device.model_validate(fields), campus.site.id)
        except AlreadyExists as exc:
            if any(d.id == body.id for d in campus.devices):  # its id: say how to change it instead
                raise AlreadyExists(f"{exc}: PATCH /api/v1/sites/{campus.site.id}/devices/{body.id} to change it"
                                    ) from exc
            raise

    _save(add, request, later)
    return _one(service, campus, body.id)


def update_device(device_id: DeviceId, body: DeviceUpdate, service: ServiceDep, access: AccessDep,
                  request: Request, later: BackgroundTasks, site: SiteArg = None) -> DevicePublic:
    campus, old = _found(access, device_id, site)
    change = body.model_dump(exclude_unset=True)
    _item(change, change.get("kind") or old.kind)
    if "building" in change and "zone" not in change:
        change["zone"] = None  # follows the new building's zone
    _inside(access, campus, {**old.model_dump(), **change})
    _profile_known(change)
    _save(lambda: service.registry.update_device(device_id, change, campus.site.id), request, later)
    return _one(service, campus, device_id)


def delete_device(device_id: DeviceId, service: ServiceDep, access: AccessDep, request: Request,
                  later: BackgroundTasks, site: SiteArg = None) -> None:
    campus, _ = _found(access, device_id, site)
    whole = access.registry.campuses.get(campus.site.id, campus)
    terms = whole.virtual_terms()  # each virtual meter's terms, parsed and checked
    users = [d for d in whole.devices if device_id in terms.get(d.id, {})]
    if users:
        seen = {d.id for d in campus.devices}
        named = [f"{d.name or d.id} ({d.id})" for d in users if d.id in seen]
        which = ", ".join(named) if len(named) == len(users) else "a virtual meter outside this token's view"
        raise Invalid(f"{device_id} is a term of {which}: change or delete that virtual meter first")
    _save(lambda: service.registry.delete_device(device_id, campus.site.id), request, later)


for _base in ("/devices", "/sites/{site}/devices"):
    router.add_api_route(f"{_base}/{{device_id}}", get_device, methods=["GET"], response_model=DevicePublic)
    router.add_api_route(f"{_base}/{{device_id}}/readings", readings, methods=["GET"], response_model=ReadingsPublic,
                         summary="Readings in [start, end), raw in time order or downsampled")
    router.add_api_route(f"{_base}/{{device_id}}/latest", latest, methods=["GET"], response_model=ReadingPublic)
    router.add_api_route(_base, create_device, methods=["POST"], response_model=DevicePublic, status_code=201,
                         dependencies=[Admin], summary="Add a meter or sensor (admin)")
    router.add_api_route(f"{_base}/{{device_id}}", update_device, methods=["PATCH"], response_model=DevicePublic,
                         dependencies=[Admin],
                         summary="Change a device's fields (admin); a new multiplier recomputes its consumption")
    router.add_api_route(f"{_base}/{{device_id}}", delete_device, methods=["DELETE"], status_code=204,
                         dependencies=[Admin],
                         summary="Remove a device from the registry (admin); its stored readings are kept")
router.add_api_route("/sites/{site}/devices", list_devices, methods=["GET"], response_model=list[DevicePublic],
                     summary="A site's devices (as /devices?site=)")
