"""Check rounds (巡查/检查记录): POST /inspections records one (JSON, or multipart with photos); GET /inspections
lists them; GET /inspections/due says which are due or overdue and who the roster has on them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from api.deps import ContextDep, Electrician, LanguageDep, PageDep, PrincipalDep, RecordsDep, TimezoneDep
from api.routers.files import check_photos
from api.schemas import ItemPublic, PersonPublic, RoundCreate, RoundPublic, TemplatePublic
from api.timefmt import at_ms
from api.uploads import body_of, read_record
from campus.errors import NotFound
from records.context import RecordRefused
from records.desk import RecordDesk
from records.recording import Answer, record_round
from records.rounds import Template
from records.store import RoundRow

router = APIRouter(tags=["records"])
ITEM_PHOTOS = tuple(f"photo-{i}" for i in range(100))  # multipart parts: the photos of item i


# Not in api.schemas: water_tests has a DuePublic too, so OpenAPI names this component after its module
# (api__routers__inspections__DuePublic); moving it would rename the component.
class DuePublic(BaseModel):
    template: str
    name: str
    zone: str
    building: str | None
    place_name: str
    start: date
    end: date
    status: str = Field(description="due (its window holds today) or overdue (its window passed without a round)")
    assigned: list[PersonPublic] = Field(description="who the duty roster has on duty there")


def public_round(t: RoundRow, records: RecordDesk, tz: ZoneInfo, language: str = "zh-CN",
                 hazards: list[int] | None = None) -> RoundPublic:
    tmpl = records.templates.template(t.template)
    name = tmpl.name.text(language) if tmpl else t.template
    return RoundPublic(id=t.id, site=t.site, template=t.template, template_name=name, zone=t.zone,
                       building=t.building, recorded_by=t.recorded_by, recorded_at=at_ms(t.recorded_ms, tz),
                       day=date.fromisoformat(t.day), items=[ItemPublic(**i) for i in t.items],
                       problems=sum(1 for i in t.items if not i["ok"]), note=t.note, photos=t.photos,
                       hazards=hazards or [])


@router.post("/inspections", response_model=RoundPublic, status_code=201, dependencies=[Electrician],
             summary="Record a check round: each item OK or problem (none left unanswered), a note, photos of the "
                     "round and of each item (JSON, or multipart: 'record', 'photo' and 'photo-N' parts); who and "
                     "when come from the token and the server's clock",
             openapi_extra=body_of(RoundCreate, {"photo": "photos of the round as a whole (JPEG, PNG or WebP)",
                                                 "photo-0": "photos of item 0 (likewise photo-1, photo-2, …)"}))
async def create(request: Request, records: RecordsDep, ctx: ContextDep, principal: PrincipalDep,
                 tz: TimezoneDep, language: LanguageDep) -> RoundPublic:
    body, files = await read_record(request, RoundCreate, ("photo", *ITEM_PHOTOS))
    shots = {i: check_photos(records, files[f"photo-{i}"]) for i in range(len(ITEM_PHOTOS))}
    answers = [Answer(a.item, a.ok, a.note, tuple(a.photos), tuple(shots.pop(a.item, []))) for a in body.items]
    stray = [f"photo-{i}" for i, got in shots.items() if got]
    if stray:
        raise RecordRefused(f"{', '.join(stray)}: no such item is answered in this round (photo-N goes with item N)")
    row, found = record_round(records, ctx, template=body.template, zone=body.zone, building=body.building,
                              answers=answers, note=body.note, photos=body.photos, by=principal.name,
                              hazards=body.hazards, uploads=check_photos(records, files["photo"]))
    return public_round(row, records, tz, language, hazards=[h.id for h in found])


@router.get("/inspections", response_model=list[RoundPublic], summary="Check rounds recorded, newest first")
def listing(records: RecordsDep, ctx: ContextDep, tz: TimezoneDep, page: PageDep, response: Response,
            language: LanguageDep,
            zone: Annotated[str | None, Query(max_length=64)] = None,
            building: Annotated[str | None, Query(max_length=64)] = None,
            template: Annotated[str | None, Query(max_length=64)] = None,
            since: Annotated[datetime | None, Query(description="recorded at or after")] = None) -> list[RoundPublic]:
    since_ms = int(since.timestamp() * 1000) if since is not None and since.year > 1970 else 0
    rows = [r for r in records.store.rounds(ctx.site, since_ms=since_ms, template=template, zone=zone,
                                            building=building) if ctx.sees(r.site, r.zone, r.building)]
    return [public_round(r, records, tz, language) for r in page.of(rows, response)]


@router.get("/inspections/due", response_model=list[DuePublic],
            summary="Rounds due today (this week) and overdue ones, with who the duty roster has on them")
def due(records: RecordsDep, ctx: ContextDep, lang: LanguageDep) -> list[DuePublic]:
    zones = {z.id: z.name for z in ctx.campus.zones}
    names = {b.id: b.name for b in ctx.campus.buildings}
    return [DuePublic(template=r.template.id, name=r.template.name.text(lang), zone=r.place.zone,
                      building=r.place.building,
                      place_name=names.get(r.place.building or "", "") or zones.get(r.place.zone, r.place.zone),
                      start=r.window.start, end=r.window.end, status=r.status,
                      assigned=[PersonPublic(id=p.id, name=p.name) for p in r.assigned])
            for r in records.due_rounds(ctx)]


@router.get("/inspections/templates", response_model=list[TemplatePublic], summary="The check-round templates")
def templates(records: RecordsDep, lang: LanguageDep) -> list[TemplatePublic]:
    return [_template(t, lang) for t in records.templates.rounds]


def _template(t: Template, lang: str) -> TemplatePublic:
    return TemplatePublic(id=t.id, name=t.name.text(lang), every=t.every.value, per=t.per.value,
                          items=[i.text(lang) for i in t.items])


@router.get("/inspections/{round_id}", response_model=RoundPublic, summary="One check round")
def one(records: RecordsDep, ctx: ContextDep, tz: TimezoneDep, language: LanguageDep, round_id: int) -> RoundPublic:
    row = records.store.round(round_id) if 0 < round_id < 2**62 else None
    if row is None or not ctx.sees(row.site, row.zone, row.building):
        raise NotFound(f"no check round #{round_id}")
    return public_round(row, records, tz, language)
