from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, BackgroundTasks, HTTPException, Path, Query, Request, Response
from pydantic import ValidationError

from api.brokerdeploy import keep_broker_current
from api.deps import Admin, PageDep, ServiceDep, TimezoneDep
from api.schemas import DeviceCreate, DevicePublic, DeviceUpdate, ReadingPublic, ReadingsPublic
from api.timefmt import from_ms, parse_interval, to_ms
from ingest.campus import Department, Device
from ingest.errors import AlreadyExists, ConfigError, NotFound
from ingest.service import IngestService
from ingest.status import Presence

router = APIRouter(prefix="/devices", tags=["devices"])


def _public(service: IngestService, dev: Device, presence: dict[str, Presence], tz: ZoneInfo) -> DevicePublic:
    campus = service.registry.campus
    building = campus.building(dev.building)
    p = presence.get(dev.id)
    status: Literal["online", "offline", "unknown"] = (
        "unknown" if p is None or p.online is None else "online" if p.online else "offline")
    return DevicePublic(id=dev.id, name=dev.name, kind=dev.kind, site=campus.site.id, building=dev.building,
                        department=building.department if building else Department.OTHER, zone=dev.zone or "default",
                        interval_s=dev.interval_s, multiplier=dev.multiplier, rated_capacity=dev.rated_capacity,
                        role=dev.role, parent=dev.parent, gateway=dev.gateway, status=status,
                        last_seen=from_ms(p.last_seen_ms if p else None, tz))


def _device(service: IngestService, device_id: str) -> Device:
    try:
        return service.registry.device(device_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc


@router.get("", response_model=list[DevicePublic], summary="Devices with status and last seen, a page at a time")
def list_devices(service: ServiceDep, tz: TimezoneDep, page: PageDep, response: Response) -> list[DevicePublic]:
    presence = service.presence.all()
    return [_public(service, d, presence, tz) for d in page.of(service.registry.campus.devices, response)]


DeviceId = Annotated[str, Path(max_length=64, description="device id")]


@router.get("/{device_id}", response_model=DevicePublic)
def get_device(device_id: DeviceId, service: ServiceDep, tz: TimezoneDep) -> DevicePublic:
    return _public(service, _device(service, device_id), service.presence.all(), tz)


@router.get("/{device_id}/readings", response_model=ReadingsPublic,
            summary="Readings in [start, end), raw in time order or downsampled")
def readings(device_id: DeviceId, service: ServiceDep, tz: TimezoneDep, request: Request,
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
    dev = _device(service, device_id)
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
    samples = service.store.readings(dev.id, dev.kind, start_ms, end_ms, interval_ms=interval_ms, agg=agg,
                                     offset_ms=offset_ms, limit=limit)
    out = [ReadingPublic(ts=from_ms(s.ts, tz), seq=s.seq, values=s.values) for s in samples]  # type: ignore[arg-type]
    return ReadingsPublic(device=dev.id, kind=dev.kind, start=from_ms(start_ms, tz), end=from_ms(end_ms, tz),  # type: ignore[arg-type]
                          interval_s=interval_ms // 1000 if interval_ms else None,
                          agg=agg if interval_ms else None, count=len(out), readings=out)


@router.get("/{device_id}/latest", response_model=ReadingPublic)
def latest(device_id: DeviceId, service: ServiceDep, tz: TimezoneDep) -> ReadingPublic:
    dev = _device(service, device_id)
    sample = service.store.latest(dev.id, dev.kind)
    if sample is None:
        raise HTTPException(404, f"device {device_id!r} has no readings yet")
    return ReadingPublic(ts=from_ms(sample.ts, tz), seq=sample.seq, values=sample.values)  # type: ignore[arg-type]


def _save(service: IngestService, change: Callable[[], None], request: Request, later: BackgroundTasks) -> None:
    """Make a registry change; then, with [broker] manage, the broker's files follow (after the answer)."""
    try:
        change()
    except ValidationError as exc:
        raise HTTPException(422, "; ".join(f"{'.'.join(map(str, e['loc'])) or 'device'}: {e['msg']}"
                                           for e in exc.errors())) from exc
    except AlreadyExists as exc:
        raise HTTPException(409, str(exc)) from exc
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except ConfigError as exc:  # the campus check: unknown building, zone or parent
        raise HTTPException(422, str(exc)) from exc
    later.add_task(keep_broker_current, request.app.state.settings)


@router.post("", response_model=DevicePublic, status_code=201, dependencies=[Admin],
             summary="Add a meter or sensor (admin)")
def create_device(body: DeviceCreate, service: ServiceDep, tz: TimezoneDep, request: Request,
                  later: BackgroundTasks) -> DevicePublic:
    def add() -> None:
        try:
            service.registry.add_device(Device.model_validate(body.model_dump(exclude_unset=True)))
        except AlreadyExists as exc:
            raise AlreadyExists(f"{exc}: PATCH /api/v1/devices/{body.id} to change it") from exc

    _save(service, add, request, later)
    return _public(service, service.registry.device(body.id), service.presence.all(), tz)


@router.patch("/{device_id}", response_model=DevicePublic, dependencies=[Admin],
              summary="Change a device's fields (admin); a new multiplier recomputes its consumption")
def update_device(device_id: DeviceId, body: DeviceUpdate, service: ServiceDep, tz: TimezoneDep, request: Request,
                  later: BackgroundTasks) -> DevicePublic:
    _device(service, device_id)
    change = body.model_dump(exclude_unset=True)
    if "building" in change and "zone" not in change:
        change["zone"] = None  # follows the new building's zone
    _save(service, lambda: service.registry.update_device(device_id, change), request, later)
    return _public(service, service.registry.device(device_id), service.presence.all(), tz)


@router.delete("/{device_id}", status_code=204, dependencies=[Admin],
               summary="Remove a device from the registry (admin); its stored readings are kept")
def delete_device(device_id: DeviceId, service: ServiceDep, request: Request, later: BackgroundTasks) -> None:
    _device(service, device_id)
    _save(service, lambda: service.registry.delete_device(device_id), request, later)
