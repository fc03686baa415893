"""The annual public-institution return (公共机构能源资源消费统计): GET /returns/{year} (JSON, the form as XLSX, or
a PDF) and PUT /returns/{year}/entries (the values entered by hand; admin).

Scope: the return is the whole site's (its floor area, its people, every meter, its bills), so only a token not
narrowed to zones or buildings may read or write it (403, saying why); a site it may not see does not exist (404).
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.deps import CampusDep, LanguageDep, PrincipalDep, UsageDep, require
from api.tokens import Principal, Role
from app.annual_return import annual_return
from app.return_reminder import ReturnReminder
from records.return_entries import MAX_VALUES, NOTE_MAX, ReturnEntries
from reports.annual_return import AnnualReturn, Entered
from reports.render.return_pdf import render_return_pdf
from reports.render.return_xlsx import render_return, return_filename

router = APIRouter(prefix="/returns", tags=["reports"])
Year = Annotated[int, Path(ge=2001, le=2099, description="the calendar year reported, e.g. 2026 (filed by 31 March "
                                                         "2027)")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Key = Annotated[str, StringConstraints(max_length=64)]
Value = Annotated[str, StringConstraints(max_length=64)] | int | float | None


class EntriesBody(BaseModel):
    """Values entered by hand: each field of the return (``floor_area_m2``, ``energy_users``, ``vehicles_petrol``,
    ``petrol_qty`` in L, ``petrol_yuan``, ``gas_yuan``, ``credit_code``, …); ``null`` clears one. A correction is
    entered again: the old value stays in the history."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "values": {"floor_area_m2": 12000, "energy_users": 1500, "vehicles_petrol": 2, "petrol_qty": 1830.5,
                   "petrol_yuan": "14095.85", "gas_yuan": "45210.00"}, "note": "据2026年度车辆台账"}]})
    values: dict[Key, Value] = Field(max_length=MAX_VALUES)
    note: str = Field(default="", max_length=NOTE_MAX)


class HistoryPublic(BaseModel):
    field: str
    value: str | None
    by: str
    at_ms: int
    note: str


class EntriesPublic(BaseModel):
    site: str
    year: int
    entries: dict[str, Entered] = Field(description="each field's current value")
    history: list[HistoryPublic] = Field(description="every value entered for the site and year, oldest first")


def _site_wide(principal: Principal, what: str) -> None:
    if principal.scope.partial:
        raise HTTPException(403, f"a token narrowed to zones or buildings cannot {what}: the annual return is the "
                                 "whole site's (its floor area, its people, every meter and bill); use a token of "
                                 "the whole site")


def _entries(request: Request) -> ReturnEntries:
    got: ReturnEntries = request.app.state.return_entries
    return got


def _reminder(request: Request) -> ReturnReminder:
    got: ReturnReminder = request.app.state.return_reminder
    return got


@router.get("/{year}", response_model=AnnualReturn,
            summary="The annual public-institution return (公共机构能源资源消费统计): JSON, or the form as XLSX",
            responses={200: {"content": {XLSX: {}, "application/pdf": {}},
                             "description": "JSON (the model below), the form (xlsx) or a PDF to sign"}})
def get_return(
    year: Year, request: Request, campus: CampusDep, usage: UsageDep, principal: PrincipalDep,
    language: LanguageDep,
    format: Annotated[Literal["json", "xlsx", "pdf"], Query(description="json, xlsx (the form) or pdf (to sign)")
                      ] = "json",
) -> Response:
    _site_wide(principal, "read a site's annual return")
    got = annual_return(usage.site(campus.site.id), request.app.state.settings, _entries(request), year,
                        language=language, now_ms=_reminder(request).clock.now_ms())
    if format == "pdf":
        return Response(render_return_pdf(got, request.app.state.settings.report), media_type="application/pdf",
                        headers={"Content-Disposition":
                                 f"attachment; filename*=UTF-8''{quote(return_filename(got)[:-5] + '.pdf')}"})
    if format == "xlsx":
        return Response(render_return(got), media_type=XLSX, headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(return_filename(got))}"})
    return Response(got.model_dump_json(), media_type="application/json")


@router.put("/{year}/entries", response_model=EntriesPublic, dependencies=[Depends(require(Role.ADMIN))],
            summary="Enter the return's values by hand (floor area, energy users, vehicles, fuels, costs)")
def put_entries(year: Year, body: EntriesBody, request: Request, campus: CampusDep,
                principal: PrincipalDep) -> EntriesPublic:
    _site_wide(principal, "enter a site's annual return")
    store = _entries(request)
    current = store.enter(campus.site.id, year, dict(body.values), principal.name,
                          _reminder(request).clock.now_ms(), body.note)
    return EntriesPublic(site=campus.site.id, year=year, entries=current,
                         history=[HistoryPublic(field=h.field, value=h.value, by=h.by, at_ms=h.at_ms, note=h.note)
                                  for h in store.history(campus.site.id, year)])
