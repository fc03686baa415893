"""Readings by hand (抄表): POST /readings/manual takes a register a person read (JSON, or multipart with the dial's
photo); GET /readings/manual lists them; GET /readings/manual/due is this month's reading round per zone, each
meter with its newest reading so that a typo shows beside it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response

from api.deps import AccessDep, ContextDep, Electrician, PageDep, PrincipalDep, RecordsDep, ServiceDep
from api.routers.files import check_photos
from api.schemas.readings import (
    LastReadingPublic,
    ManualReadingCreate,
    ManualReadingPublic,
    MeterDuePublic,
    ReadingRoundPublic,
)
from api.schemas.records import PersonPublic
from api.timefmt import at_ms
from api.uploads import body_of, read_record
from campus.contract import REGISTER_FIELD, Kind
from campus.model import Campus
from ingest.service import IngestService
from records.desk import RecordDesk
from records.manual import Entry, take
from records.manual_store import ManualRow
from records.reading_round import ZoneRound
from records.store import NotUploaded

router = APIRouter(tags=["records"])
UNITS = {"energy_kwh": "kWh", "volume_m3": "m³"}


def _public(row: ManualRow, campus: Campus, tz: ZoneInfo, records: RecordDesk) -> ManualReadingPublic:
    dev = next((d for d in campus.devices if d.id == row.device), None)
    previous = None if row.last_ts_ms is None or row.last_value is None else LastReadingPublic(
        at=at_ms(row.last_ts_ms, tz), value=row.last_value,
        manual=bool(records.manual.at(row.site, row.device, [row.last_ts_ms])))
    return ManualReadingPublic(id=row.id, site=row.site, device=row.device,
                               device_name=(dev.name if dev else "") or row.device, kind=Kind(row.kind),
                               values=row.values, read_at=at_ms(row.ts_ms, tz), entered_at=at_ms(row.entered_ms, tz),
                               read_by=row.read_by, note=row.note, photos=row.photos, replacement=row.replacement,
                               confirmed=row.confirmed, previous=previous)


@router.post("/readings/manual", response_model=ManualReadingPublic, status_code=201, dependencies=[Electrician],
             summary="Record a register read by hand (抄表): values of the meter's kind, an optional photo of the "
                     "dial and note; who is the token, when the server's clock unless read_at (≤ 7 days old). A "
                     "lower register is refused unless replacement; a rise past the rated capacity asks to confirm "
                     "(409: send again with confirm=true)",
             responses={409: {"description": "a rise past the rated capacity × elapsed hours: confirm it"},
                        422: {"description": "refused, in words (a lower register names the last reading)"}},
             openapi_extra=body_of(ManualReadingCreate, {"photo": "a photo of the dial (JPEG, PNG or WebP)"}))
async def create(request: Request, records: RecordsDep, service: ServiceDep, access: AccessDep,
                 principal: PrincipalDep, later: BackgroundTasks,
                 site: Annotated[str | None, Query(max_length=64)] = None) -> ManualReadingPublic:
    body, files = await read_record(request, ManualReadingCreate, ("photo",))
    campus, dev = access.device(body.device, body.site or site)
    ctx = records.context(campus.site.id, view=campus, scope=access.scope)
    uploads = check_photos(records, files["photo"])
    unowned = records.store.unowned(ctx.site, body.photos)
    if unowned:
        raise NotUploaded(f"photo {unowned[0][:16]}… was not uploaded for site {ctx.site}: POST it to "
                          f"/api/v1/photos?site={ctx.site} first, or send it in this request (part 'photo')")
    settings = request.app.state.settings
    entry = Entry(values=body.values, read_ms=int(body.read_at.timestamp() * 1000) if body.read_at else None,
                  note=body.note, photos=tuple(body.photos), replacement=body.replacement, confirm=body.confirm)
    row = take(entry, ctx=ctx, dev=dev, by=principal.name, now_ms=records.now_ms(), readings=service.store,
               meta=records.manual, commit=service.pipeline.commit, prefix=settings.mqtt.topic_prefix,
               limits=settings.ingest.limits, keep=lambda: tuple(records.keep(ctx.site, uploads)))
    later.add_task(_after, records, ctx.site)
    return _public(row, campus, ctx.tz, records)


def _after(records: RecordDesk, site: str) -> None:
    """After the answer: hand the reading to the alert engine, and resolve the zone's overdue alert if it is read."""
    records.hand_on()
    records.check_readings(records.context(site), records.now_ms())


@router.get("/readings/manual", response_model=list[ManualReadingPublic],
            summary="Readings by hand, newest first (device=, since=)")
def listing(records: RecordsDep, ctx: ContextDep, page: PageDep, response: Response,
            device: Annotated[str | None, Query(max_length=64)] = None,
            since: Annotated[datetime | None, Query(description="read at or after")] = None,
            ) -> list[ManualReadingPublic]:
    since_ms = int(since.timestamp() * 1000) if since is not None and since.year > 1970 else 0
    # a narrowed token: the meters it sees now (as GET /devices does), chosen in the query, before its limit
    mine = [d.id for d in ctx.campus.devices if ctx.sees(ctx.site, d.zone, d.building)] if ctx.scope.partial else None
    rows = records.manual.listing(ctx.site, device=device, since_ms=since_ms, devices=mine)
    return [_public(r, ctx.campus, ctx.tz, records) for r in page.of(rows, response)]


@router.get("/readings/manual/due", response_model=list[ReadingRoundPublic],
            summary="This month's reading round per zone: the meters read by hand, done or due (or overdue), each "
                    "with its newest reading and who the duty roster has on the zone")
def due(records: RecordsDep, ctx: ContextDep, service: ServiceDep) -> list[ReadingRoundPublic]:
    return [_round(r, ctx.campus, service, ctx.tz) for r in records.reading_rounds(ctx)]


def _round(r: ZoneRound, campus: Campus, service: IngestService, tz: ZoneInfo) -> ReadingRoundPublic:
    zones = {z.id: z.name for z in campus.zones}
    buildings = {b.id: b.name for b in campus.buildings}
    meters = []
    for m in r.meters:
        dev = m.device
        field = REGISTER_FIELD[dev.kind] or ""
        latest = service.store.latest(campus.site.id, dev.id, dev.kind)
        last = None
        if latest is not None and field in latest.values:
            last = LastReadingPublic(at=at_ms(latest.ts, tz), value=latest.values[field],
                                     manual=m.last_ms is not None and latest.ts == m.last_ms)
        meters.append(MeterDuePublic(device=dev.id, name=dev.name or dev.id, kind=dev.kind, building=dev.building,
                                     building_name=buildings.get(dev.building, dev.building), field=field,
                                     unit=UNITS.get(field, ""), multiplier=dev.multiplier,
                                     rated_capacity=dev.rated_capacity, status=m.status, last=last))
    return ReadingRoundPublic(zone=r.zone, zone_name=zones.get(r.zone, r.zone), month=r.month.key,
                              due_by=r.month.due, status=r.status, done=r.done, total=len(r.meters),
                              assigned=[PersonPublic(id=p.id, name=p.name) for p in r.assigned], meters=meters)
