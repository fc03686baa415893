"""The hazard ledger (隐患排查台账): POST /hazards reports one, PATCH /hazards/{id} moves it open → assigned →
fixed with who, when and photos, GET /hazards lists them (JSON, or the ledger as XLSX or PDF)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response

from api.deps import ContextDep, Electrician, LanguageDep, PrincipalDep, RecordsDep, TimezoneDep
from api.routers.files import check_photos
from api.schemas import HazardCreate, HazardPublic, HazardUpdate, StepPublic
from api.timefmt import at_ms, from_ms
from api.uploads import body_of, read_record
from campus.errors import NotFound
from records.context import Context
from records.desk import RecordDesk
from records.ledger import hazard_ledger
from records.recording import move_hazard, report_hazard
from records.store import HazardRow

router = APIRouter(tags=["records"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _public(records: RecordDesk, h: HazardRow, tz: ZoneInfo, steps: bool = True) -> HazardPublic:
    return HazardPublic(
        id=h.id, site=h.site, title=h.title, zone=h.zone, building=h.building, device=h.device, inspection=h.round_id,
        status=h.status, reported_by=h.reported_by, reported_at=at_ms(h.reported_ms, tz), assigned_to=h.assigned_to,
        assigned_at=from_ms(h.assigned_ms, tz), fixed_by=h.fixed_by, fixed_at=from_ms(h.fixed_ms, tz),
        due=dt.date.fromisoformat(h.due) if h.due else None, note=h.note, photos=h.photos,
        steps=[StepPublic(at=at_ms(s.ts_ms, tz), by=s.by, status=s.status, note=s.note, photos=s.photos)
               for s in records.store.steps(h.id)] if steps else [])


def _get(records: RecordDesk, ctx: Context, hazard_id: int) -> HazardRow:
    h = records.store.hazard(hazard_id) if 0 < hazard_id < 2**62 else None
    if h is None or not ctx.sees(h.site, h.zone, h.building):
        raise NotFound(f"no hazard #{hazard_id}")
    return h


@router.post("/hazards", response_model=HazardPublic, status_code=201, dependencies=[Electrician],
             summary="Report a hazard (隐患): JSON, or multipart with 'record' and 'photo' parts",
             openapi_extra=body_of(HazardCreate, {"photo": "photos of what was found"}))
async def create(request: Request, records: RecordsDep, ctx: ContextDep, principal: PrincipalDep,
                 tz: TimezoneDep) -> HazardPublic:
    body, files = await read_record(request, HazardCreate, ("photo",))
    h = report_hazard(records, ctx, title=body.title, building=body.building, device=body.device,
                      round_id=body.inspection, due=body.due, note=body.note, photos=body.photos, by=principal.name,
                      uploads=check_photos(records, files["photo"]))
    return _public(records, h, tz)


@router.patch("/hazards/{hazard_id}", response_model=HazardPublic, dependencies=[Electrician],
              summary="Move a hazard along: assigned (to whom), then fixed (what was done), with photos",
              openapi_extra=body_of(HazardUpdate, {"photo": "photos of the fix"}))
async def update(request: Request, records: RecordsDep, ctx: ContextDep, principal: PrincipalDep, tz: TimezoneDep,
                 hazard_id: int) -> HazardPublic:
    h = _get(records, ctx, hazard_id)
    body, files = await read_record(request, HazardUpdate, ("photo",))
    moved = move_hazard(records, h, status=body.status, assigned_to=body.assigned_to, due=body.due, note=body.note,
                        photos=body.photos, by=principal.name, uploads=check_photos(records, files["photo"]))
    return _public(records, moved, tz)


@router.get("/hazards", response_model=list[HazardPublic],
            responses={200: {"content": {XLSX: {}, "application/pdf": {}},
                             "description": "JSON, or the ledger as XLSX or PDF"}},
            summary="The hazard ledger: JSON, XLSX or PDF")
def listing(request: Request, records: RecordsDep, ctx: ContextDep, tz: TimezoneDep, language: LanguageDep,
            status: Annotated[Literal["open", "assigned", "fixed"] | None, Query()] = None,
            format: Annotated[Literal["json", "xlsx", "pdf"], Query()] = "json") -> Response | list[HazardPublic]:
    rows = [h for h in records.store.hazards(ctx.site, status=status) if ctx.sees(h.site, h.zone, h.building)]
    if format == "json":
        return [_public(records, h, tz, steps=False) for h in rows]
    body = hazard_ledger(ctx.campus, rows, format, request.app.state.settings.report, language.startswith("zh"),
                         dt.datetime.fromtimestamp(records.now_ms() / 1000, tz))
    name = f"hazards-{ctx.site}.{format}"
    return Response(body, media_type=XLSX if format == "xlsx" else "application/pdf",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


@router.get("/hazards/{hazard_id}", response_model=HazardPublic, summary="One hazard with its history")
def one(records: RecordsDep, ctx: ContextDep, tz: TimezoneDep, hazard_id: int) -> HazardPublic:
    return _public(records, _get(records, ctx, hazard_id), tz)
