"""Water tests (水质检测): POST /water-tests records one result (JSON, or multipart with the laboratory's PDF);
GET /water-tests lists them, or with due=true what is due or overdue; GET /water-tests/points the sampling points;
GET /water-tests/notice the A4 public notice (上墙公示)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from api.deps import ContextDep, Electrician, LanguageDep, PrincipalDep, RecordsDep, TimezoneDep
from api.routers.files import check_attachment
from api.schemas import PointPublic, ResultPublic, WaterTestCreate, WaterTestPublic
from api.timefmt import at_ms, from_ms
from api.uploads import body_of, read_record
from campus.errors import NotFound
from records.context import Context
from records.desk import RecordDesk
from records.ledger import Latest, water_notice
from records.store import WaterTestRow
from records.water import Limit, SamplingPoint, limits, points
from records.water_tests import Value, record_test

router = APIRouter(tags=["records"])


# Not in api.schemas: inspections has a DuePublic too, so OpenAPI names this component after its module
# (api__routers__water_tests__DuePublic); moving it would rename the component.
class DuePublic(BaseModel):
    point: str
    point_name: str
    building: str
    zone: str
    kind: str = Field(description="self (every 14 days), lab (once a term) or filter (once a term)")
    last: dt.datetime | None
    due: dt.date
    status: str = Field(description="due (soon or now) or overdue")


def _public(t: WaterTestRow, names: dict[str, SamplingPoint], tz: ZoneInfo, zh: bool) -> WaterTestPublic:
    results = [ResultPublic(field=r["field"], name=r["name"] if zh else r["name_en"], value=r["value"],
                            unit=r["unit"], low=r["low"], high=r["high"], limit=r["limit"], ok=r["ok"],
                            rule=r["rule"]) for r in t.results]
    p = names.get(t.point)
    return WaterTestPublic(id=t.id, site=t.site, point=t.point, point_name=p.name if p else t.point, kind=t.kind,
                           lab=t.lab, taken_at=at_ms(t.taken_ms, tz), recorded_by=t.recorded_by,
                           recorded_at=at_ms(t.recorded_ms, tz), results=results,
                           passed=all(r.ok for r in results), attachment=t.attachment, note=t.note, alerts=t.alerts)


def _points(ctx: Context) -> dict[str, SamplingPoint]:
    """The sampling points the token sees (buildings of its scope)."""
    seen = {b.id for b in ctx.campus.buildings}
    return {k: p for k, p in points(ctx.campus).items() if p.building in seen}


@router.post("/water-tests", response_model=WaterTestPublic, status_code=201, dependencies=[Electrician],
             summary="Record a water test result (JSON, or multipart with 'record' and an 'attachment' PDF)",
             openapi_extra=body_of(WaterTestCreate, {"attachment": "the laboratory's report (PDF)"}))
async def create(request: Request, records: RecordsDep, ctx: ContextDep, principal: PrincipalDep, tz: TimezoneDep,
                 language: LanguageDep) -> WaterTestPublic:
    body, files = await read_record(request, WaterTestCreate, ("attachment",))
    seen = _points(ctx)
    if body.point not in seen:
        raise NotFound(f"no sampling point {body.point!r}")
    upload = check_attachment(records, files["attachment"])
    values = {k: Value(v) if isinstance(v, float | int) else Value(v.value, v.min, v.max, v.unit, v.name)
              for k, v in body.values.items()}
    row = record_test(records, ctx, point=body.point, kind=body.kind, lab=body.lab, taken=body.taken_at,
                      values=values, attachment=None, note=body.note, by=principal.name, upload=upload)
    return _public(row, seen, tz, language.startswith("zh"))


@router.get("/water-tests", response_model=list[WaterTestPublic] | list[DuePublic],
            summary="Water tests recorded (newest first), or with due=true what is due or overdue")
def listing(records: RecordsDep, ctx: ContextDep, tz: TimezoneDep, language: LanguageDep,
            point: Annotated[str | None, Query(max_length=64)] = None,
            kind: Annotated[Literal["self", "lab", "filter"] | None, Query()] = None,
            due: Annotated[bool, Query(description="list what is due or overdue instead")] = False,
            ) -> list[WaterTestPublic] | list[DuePublic]:
    seen = _points(ctx)
    if due:
        return [DuePublic(point=d.point.id, point_name=d.point.name, building=d.point.building, zone=d.point.zone,
                          kind=d.kind, last=from_ms(d.last_ms, tz), due=d.due, status=d.status)
                for d in records.due_tests(ctx) if d.point.id in seen and (point is None or d.point.id == point)
                and (kind is None or d.kind == kind)]
    return [_public(t, seen, tz, language.startswith("zh"))
            for t in records.store.tests(ctx.site, point=point, kind=kind) if t.point in seen]


@router.get("/water-tests/points", response_model=list[PointPublic], summary="The drinking-water sampling points")
def sampling_points(records: RecordsDep, ctx: ContextDep) -> list[PointPublic]:
    return [PointPublic(id=p.id, name=p.name, building=p.building, zone=p.zone, role=p.role, device=p.device,
                        filter=p.filter, limits={f: lim.text() for f, lim in _limits(records, ctx, p).items()})
            for p in _points(ctx).values()]


def _limits(records: RecordDesk, ctx: Context, p: SamplingPoint) -> dict[str, Limit]:
    if ctx.desk is None:
        return {}
    return limits(ctx.desk.rules, ctx.campus, p)


@router.get("/water-tests/notice", responses={200: {"content": {"application/pdf": {}}}},
            summary="The public notice (上墙公示): an A4 PDF of each point's latest laboratory results beside its "
                    "latest self-test, against the limits")
def notice(request: Request, records: RecordsDep, ctx: ContextDep, tz: TimezoneDep, language: LanguageDep,
           point: Annotated[list[str] | None, Query(max_length=200, description="points to show (all by default)")]
           = None) -> Response:
    seen = _points(ctx)
    wanted = list(dict.fromkeys(point or seen))  # each point once, in the order asked
    missing = [p for p in wanted if p not in seen]
    if missing:
        raise NotFound(f"no sampling point {missing[0]!r}")
    chosen = [seen[p] for p in wanted]
    latest: list[Latest] = []
    for p in chosen:  # the latest laboratory test beside the latest self-test: neither hides the other
        lab, own = (next(iter(records.store.tests(ctx.site, point=p.id, kind=k, limit=1)), None)
                    for k in ("lab", "self"))
        latest.append((p, lab, own, _limits(records, ctx, p)))
    body = water_notice(ctx.campus, latest, request.app.state.settings.report, language.startswith("zh"),
                        dt.datetime.fromtimestamp(records.now_ms() / 1000, tz))
    return Response(body, media_type="application/pdf", headers={
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(f'water-notice-{ctx.site}.pdf')}"})
