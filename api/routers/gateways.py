"""GET /gateways (who connects to the broker, and the buses each gateway polls), PUT /gateways/{id} (a gateway's
name, building and buses) and GET /gateways/{id}/campus (the campus document the gateway process polls from).

A token narrowed to zones or buildings reaches a gateway only when it sees the whole of it: its building (a
gateway without one is placed by its devices alone) and every device that names it. A gateway reads every meter
on its buses, so a part of its device list would be a wrong list: a gateway process whose token misses a meter
would stop polling it without a word. So a token that sees only part of a gateway gets 404 for it, as for one
that does not exist, and its list shows that gateway's buses as null.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Header, Path, Query, Request, Response
from pydantic import ValidationError

from api.access import Access
from api.deps import SITE_HELP, AccessDep, Admin, CampusDep, PageDep, ServiceDep
from api.schemas import BusPublic, GatewayPublic, GatewayPut
from campus.errors import Invalid, NotFound
from campus.model import Campus, Gateway
from deploy.brokerfiles import dtus_of
from deploy.credentials import Credentials
from deploy.mosquitto import keep_broker_current

router = APIRouter(prefix="/gateways", tags=["gateways"])
GatewayId = Annotated[str, Path(max_length=64, description="gateway id (its MQTT username)")]
SiteQuery = Annotated[str | None, Query(max_length=64, description=SITE_HELP)]


def _sees(access: Access, campus: Campus, building: str) -> bool:
    """The scope's one rule about a building of ``campus`` (its zone taken from ``campus``, so that this works
    inside a registry write too, where the registry may not be read again)."""
    return access.scope.sees(campus.site.id, building, campus.zone_of(building))


def whole(access: Access, campus: Campus, gateway: Gateway) -> bool:
    """Does the token see all of ``gateway`` (``campus`` as it is, not narrowed): its building and every device
    naming it? A token not narrowed inside the site sees every gateway of it."""
    if not access.scope.partial:
        return True
    devices = [d for d in campus.devices if d.gateway == gateway.id]
    if gateway.building is None and not devices:
        return False  # nothing places it inside the token's buildings
    if gateway.building is not None and not _sees(access, campus, gateway.building):
        return False
    return all(_sees(access, campus, d.building) for d in devices)


def _buses(campus: Campus, gateway: Gateway) -> list[BusPublic]:
    on: dict[str, int] = {}
    for d in campus.devices:
        if d.gateway == gateway.id and d.meter is not None:
            on[d.meter.bus] = on.get(d.meter.bus, 0) + 1
    return [BusPublic.model_validate({**b.model_dump(), "reached_by": b.way, "devices": on.get(b.name, 0)})
            for b in gateway.buses]


def _credentials(request: Request) -> dict[str, str]:
    store: Credentials = request.app.state.credentials  # the app's: meterwatch.db, or the state server's
    return {c.id: "active" if c.active else "revoked" for c in store.list()}


@router.get("", response_model=list[GatewayPublic],
            summary="Who connects to the broker: gateways and devices without one, with the state of their "
                    "credentials, and each gateway's buses with how many devices are on each")
def list_gateways(service: ServiceDep, campus: CampusDep, access: AccessDep, page: PageDep,
                  response: Response, request: Request) -> list[GatewayPublic]:
    full = service.registry.site(campus.site.id)
    listed = {g.id: g for g in campus.gateways}
    creds = _credentials(request)
    out = []
    for who, devices in sorted(campus.publishers().items()):
        g = listed.get(who)
        state = creds.get(who, "none")
        buses = [] if g is None else _buses(full, g) if whole(access, full, g) else None
        out.append(GatewayPublic(id=who, name=g.name if g else devices[0].name, is_device=g is None,
                                 building=g.building if g else devices[0].building,
                                 devices=[d.id for d in devices], credentials=state,  # type: ignore[arg-type]
                                 buses=buses))
    return page.of(out, response)


def full_gateway(campus: Campus, gateway_id: str) -> Gateway | None:
    return next((g for g in campus.gateways if g.id == gateway_id), None)


def _seen(access: Access, campus: Campus, gateway_id: str) -> Gateway:
    """The gateway of ``campus`` (not narrowed) if the token sees the whole of it, else NotFound."""
    g = full_gateway(campus, gateway_id)
    if g is None or not whole(access, campus, g):
        raise NotFound(f"no gateway {gateway_id!r} in site {campus.site.id!r}")
    return g


@router.put("/{gateway_id}", response_model=GatewayPublic, dependencies=[Admin],
            summary="Create a gateway or replace its name, building and buses (admin); a bus still named by a "
                    "device's meter link cannot be removed (409)")
def put_gateway(gateway_id: GatewayId, body: GatewayPut, service: ServiceDep, access: AccessDep, request: Request,
                response: Response, later: BackgroundTasks, site: SiteQuery = None) -> GatewayPublic:
    seen = access.site(site)  # 404 for a site it may not see
    sid = seen.site.id
    try:
        new = Gateway.model_validate({"id": gateway_id, **body.model_dump(by_alias=True)})
    except ValidationError as exc:  # the id itself (the path), or two buses of one name
        raise Invalid("; ".join(f"{'.'.join(map(str, e['loc'])) or 'gateway'}: {e['msg'].removeprefix('Value error, ')}"
                                for e in exc.errors())) from exc

    others = [c for c in service.registry.campuses.values() if c.site.id != sid]  # read before the write begins

    def check(campus: Campus) -> None:
        """Inside the write: the gateway as it is now must be wholly the token's, and so must its new building."""
        if access.scope.partial:
            old = full_gateway(campus, gateway_id)
            if old is not None and not whole(access, campus, old):
                raise NotFound(f"no gateway {gateway_id!r} in site {sid!r}")
            if new.building is None:
                raise Invalid(f"gateway {gateway_id!r}: a token narrowed to zones or buildings places a gateway "
                              "in one of its buildings: give building")
        if new.building is not None and not _sees(access, campus, new.building):
            raise NotFound(f"no building {new.building!r} in site {sid!r}")  # an unknown one: 422 from the registry
        # the broker's files are written from this: a DTU topic they would refuse is refused here, now (Invalid)
        kept = [g for g in campus.gateways if g.id != gateway_id]
        dtus_of([*others, campus.model_copy(update={"gateways": [*kept, new]})],
                request.app.state.settings.mqtt.topic_prefix)

    created = service.registry.put_gateway(new, sid, check)
    later.add_task(keep_broker_current, request.app.state.settings)
    if created:
        response.status_code = 201
    full = service.registry.site(sid)
    g = full_gateway(full, gateway_id)
    assert g is not None  # noqa: S101 - just written
    devices = [d.id for d in full.devices if d.gateway == gateway_id]
    return GatewayPublic(id=g.id, name=g.name, building=g.building, is_device=False, devices=devices,
                         credentials=_credentials(request).get(g.id, "none"),  # type: ignore[arg-type]
                         buses=_buses(full, g))


def gateway_campus(campus: Campus, gateway: Gateway) -> dict[str, Any]:
    """The campus document of one gateway: the site, the buildings its devices (and it) are in, the zones those
    buildings are in (with only those buildings), the gateway with its buses, and its devices. A device's parent
    is kept when the parent is in the document (a sub-meter on another gateway is read the same; its totals are
    the server's business). ``campus.model.Campus`` validates it."""
    devices = [d for d in campus.devices if d.gateway == gateway.id]
    ids = {d.id for d in devices}
    used = {d.building for d in devices} | ({gateway.building} if gateway.building else set())
    zones = [{**z.model_dump(mode="json"), "buildings": [b for b in z.buildings if b in used]}
             for z in campus.zones if any(b in used for b in z.buildings)]
    zone_ids = {z["id"] for z in zones}
    out_devices = []
    for d in devices:
        doc = d.model_dump(mode="json", exclude_defaults=True)
        if d.zone not in zone_ids:
            doc.pop("zone", None)
        if d.parent not in ids:
            doc.pop("parent", None)
        out_devices.append(doc)
    return {"site": campus.site.model_dump(mode="json"),
            "buildings": [b.model_dump(mode="json") for b in campus.buildings if b.id in used],
            "zones": zones,
            "gateways": [gateway.model_dump(mode="json", exclude_defaults=True)],
            "devices": out_devices}


@router.get("/{gateway_id}/campus", summary="The campus document of one gateway, for `meterwatch gateway` with "
            "[gateway] server: its site, buildings, zones, the gateway with its buses, and its devices; ETag, and "
            "304 for If-None-Match", responses={
                200: {"description": "a campus document (as a campus file, in JSON)",
                      "content": {"application/json": {"schema": {"type": "object"}}}},
                304: {"description": "unchanged since the ETag given in If-None-Match"}})
def get_gateway_campus(gateway_id: GatewayId, service: ServiceDep, access: AccessDep, site: SiteQuery = None,
                       if_none_match: Annotated[str | None, Header(max_length=2000)] = None) -> Response:
    seen = access.site(site)
    campus = service.registry.site(seen.site.id)
    g = _seen(access, campus, gateway_id)
    body = json.dumps(gateway_campus(campus, g), ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if if_none_match is not None and _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 13.1.2: "*", or any listed tag equal by the weak comparison (W/ ignored)."""
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))
