"""Emergency plans (应急预案) and their runs: GET /plans lists a site's plans; GET /alerts/{id}/plan is the checklist an
alert opened; POST /alerts/{id}/plan/steps/{n} ticks a step (who from the token, when from the server's clock,
with a note and photos); GET /alerts/{id}/report is the incident report (事件报告), JSON or PDF."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from alerts.desk import AlertDesk, SiteDesk
from alerts.plans import Plan
from alerts.runs import Run, RunStep, snapshot
from alerts.store import Alert
from api.access import Scope
from api.deps import AlertsDep, CampusDep, LanguageDep, PrincipalDep, RecordsDep, TimezoneDep, require
from api.routers.alerts import AlertId
from api.routers.alerts import _get as get_alert
from api.routers.files import check_photos
from api.schemas.emergency import (
    ContactPublic,
    PlanPlacePublic,
    PlanPublic,
    PlanStart,
    PlanStepPublic,
    RunPublic,
    RunStepPublic,
    StepTick,
)
from api.timefmt import from_ms
from api.tokens import Principal, Role
from api.uploads import body_of, read_record
from campus.errors import NotFound
from campus.labels import Name
from campus.model import Campus
from emergency import incident
from emergency.activation import start_plan
from emergency.drills import Drills
from records.desk import RecordDesk, step_use

router = APIRouter(tags=["emergency"])
PlanId = Annotated[str, PathParam(max_length=64, pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", description="plan id")]
StepN = Annotated[int, PathParam(ge=1, le=1000, description="the step's number, 1 for the first")]


def _text(n: Name, language: str) -> str:
    return n.text(language)


def _places(desk: SiteDesk, plan_id: str, places: list[dict[str, Any]], scope: Scope,
            language: str) -> list[PlanPlacePublic]:
    """A plan's places as kept (``alerts.runs.snapshot``) that the token may see. A photo is a file beside the
    plans file, so only the plan as it is now can serve it: a place has its photo's URL while the file still has
    the same place at its number (a run keeps the plan as it was when it opened)."""
    site = desk.campus.site.id
    now = plans_of(desk).get(plan_id)

    def photo(n: int, p: dict[str, Any]) -> str | None:
        same = now.places[n - 1] if now is not None and n <= len(now.places) else None
        if same is None or not same.photo or same.building != p["building"] or same.name.zh != p["name"]["zh"]:
            return None
        return f"/api/v1/plans/{plan_id}/places/{n}/photo?site={site}"

    return [PlanPlacePublic(n=n, what=p["what"], name=Name(**p["name"]).text(language), building=p["building"],
                            building_name=desk.names.building(p["building"]) or p["building"],
                            where=Name(**p["where"]).text(language), photo=photo(n, p))
            for n, p in enumerate(places, start=1)
            if scope.sees(site, p["building"], desk.campus.zone_of(p["building"]))]


def _contacts(contacts: list[dict[str, Any]], language: str) -> list[ContactPublic]:
    return [ContactPublic(name=Name(**c["name"]).text(language), phone=c["phone"]) for c in contacts]


def plan_public(desk: SiteDesk, plan: Plan, scope: Scope, language: str) -> PlanPublic:
    a, kept = plan.activates, snapshot(plan)
    steps = [PlanStepPublic(n=n, id=s.id, text=_text(s.text, language), role=s.role,
                            role_name=desk.book.role_name(s.role, language),
                            within_min=None if s.within is None else s.within / 60)
             for n, s in enumerate(plan.steps, start=1)]
    return PlanPublic(id=plan.id, site=desk.campus.site.id, name=_text(plan.name, language), rules=list(a.rules),
                      categories=[c.value for c in a.categories], severities=[s.value for s in a.severities],
                      steps=steps,
                      places=_places(desk, plan.id, kept["places"], scope, language),
                      contacts=_contacts(kept["contacts"], language), drill=plan.drill)


def in_view(campus: Campus, device: str | None, building: str | None) -> None:
    """What a drill or a start names must be the token's to see: ``campus`` is the site as the token sees it, and a
    device or building outside it is answered as one that does not exist."""
    if device is not None and all(d.id != device for d in campus.devices):
        raise NotFound(f"no device {device!r} at site {campus.site.id}")
    if building is not None and campus.building(building) is None:
        raise NotFound(f"no building {building!r} at site {campus.site.id}")


def site_desk(alerts: AlertDesk, site: str) -> SiteDesk:
    return alerts.site(site)


def plans_of(desk: SiteDesk) -> dict[str, Plan]:
    return dict(desk.book.plans.plans) if desk.book.plans is not None else {}


@router.get("/plans", response_model=list[PlanPublic], summary="A site's emergency plans (应急预案), in file order")
def list_plans(alerts: AlertsDep, campus: CampusDep, principal: PrincipalDep,
               language: LanguageDep) -> list[PlanPublic]:
    desk = site_desk(alerts, campus.site.id)
    return [plan_public(desk, p, principal.scope, language) for p in plans_of(desk).values()]


@router.get("/plans/{plan_id}", response_model=PlanPublic, summary="One emergency plan")
def one_plan(plan_id: PlanId, alerts: AlertsDep, campus: CampusDep, principal: PrincipalDep,
             language: LanguageDep) -> PlanPublic:
    desk = site_desk(alerts, campus.site.id)
    plan = plans_of(desk).get(plan_id)
    if plan is None:
        raise NotFound(f"no emergency plan {plan_id!r} at site {campus.site.id}")
    return plan_public(desk, plan, principal.scope, language)


@router.get("/plans/{plan_id}/places/{n}/photo", summary="The photo of a plan's place (a valve, a breaker…)",
            response_class=FileResponse, responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}})
def place_photo(plan_id: PlanId, n: StepN, alerts: AlertsDep, campus: CampusDep,
                principal: PrincipalDep) -> FileResponse:
    desk = site_desk(alerts, campus.site.id)
    plan = plans_of(desk).get(plan_id)
    if plan is None or n > len(plan.places):
        raise NotFound(f"no place {n} in emergency plan {plan_id!r}")
    place = plan.places[n - 1]
    if not principal.scope.sees(campus.site.id, place.building, campus.zone_of(place.building)):
        raise NotFound(f"no place {n} in emergency plan {plan_id!r}")
    assert desk.book.plans is not None  # noqa: S101 - plans_of found the plan
    path = desk.book.plans.photo(plan_id, n - 1)
    return FileResponse(path, media_type="image/png" if path.suffix.lower() == ".png" else "image/jpeg")


@router.post("/plans/{plan_id}/start", response_model=RunPublic, status_code=201,
             summary="Start a plan by hand (人工启动) for a device or building: a real alert, 应急预案启动, with the "
                     "plan's checklist; for trouble no meter sees first (a typhoon warning, a pipe somebody found)")
def start(plan_id: PlanId, body: PlanStart, alerts: AlertsDep, campus: CampusDep, tz: TimezoneDep,
          language: LanguageDep, principal: Annotated[Principal, Depends(require(Role.ELECTRICIAN))]) -> RunPublic:
    desk = site_desk(alerts, campus.site.id)
    in_view(campus, body.device, body.building)
    with alerts.lock:
        alert_id = start_plan(desk, plan_id, device=body.device, building=body.building, by=principal.name,
                              note=body.note.strip(), now_ms=alerts.clock.now_ms(), language=alerts.language)
    a, desk, run = _run_of(alerts, alert_id, principal.scope)
    return run_public(desk, a, run, principal.scope, language, tz, alerts.clock.now_ms())


def _run_step(desk: SiteDesk, s: RunStep, closed: bool, now_ms: int, language: str,
              tz: Any) -> RunStepPublic:
    return RunStepPublic(n=s.n, id=s.id, text=_text(s.text, language), role=s.role,
                         role_name=desk.book.role_name(s.role, language),
                         within_min=None if s.within_s is None else s.within_s / 60, due=from_ms(s.due_ms, tz),
                         done_at=from_ms(s.done_ms, tz), done_by=s.done_by,
                         done_by_name=desk.book.person_name(s.done_by), note=s.note, photos=list(s.photos),
                         state=s.state(closed, now_ms))  # type: ignore[arg-type]


def run_public(desk: SiteDesk, a: Alert, run: Run, scope: Scope, language: str, tz: Any,
               now_ms: int) -> RunPublic:
    closed = a.status == "resolved"
    places = _places(desk, run.plan, run.snapshot["places"], scope, language)
    contacts = _contacts(run.snapshot["contacts"], language)
    return RunPublic(alert_id=a.id, plan=run.plan, name=run.name.text(language), drill=a.drill,
                     started=from_ms(run.started_ms, tz), closed=from_ms(a.resolved_ms, tz) if closed else None,
                     steps=[_run_step(desk, s, closed, now_ms, language, tz) for s in run.steps], places=places,
                     contacts=contacts)


def _run_of(alerts: AlertDesk, alert_id: int, scope: Scope) -> tuple[Alert, SiteDesk, Run]:
    a = get_alert(alerts, alert_id, scope)
    desk = alerts.of(a)
    run = desk.book.runs.run(a.id)
    if run is None:
        raise NotFound(f"alert #{alert_id} activated no emergency plan")
    return a, desk, run


@router.get("/alerts/{alert_id}/plan", response_model=RunPublic,
            summary="The emergency plan an alert activated, as a checklist: each step, who, by when, done or not")
def get_run(alert_id: AlertId, alerts: AlertsDep, tz: TimezoneDep, principal: PrincipalDep,
            language: LanguageDep) -> RunPublic:
    a, desk, run = _run_of(alerts, alert_id, principal.scope)
    return run_public(desk, a, run, principal.scope, language, tz, alerts.clock.now_ms())


@router.post("/alerts/{alert_id}/plan/steps/{n}", response_model=RunPublic,
             summary="Tick a step of the plan: done by the token's holder, now; a note and photos may go with it",
             openapi_extra=body_of(StepTick, {"photo": "photos of what was done"}))
async def tick_step(alert_id: AlertId, n: StepN, request: Request, alerts: AlertsDep, records: RecordsDep,
                    tz: TimezoneDep, language: LanguageDep,
                    principal: Annotated[Principal, Depends(require(Role.ELECTRICIAN))]) -> RunPublic:
    a, desk, run = _run_of(alerts, alert_id, principal.scope)
    run.tickable(n, a.status == "resolved")  # before anything is read or kept: a step the plan lacks, done, closed
    body, files = await read_record(request, StepTick, ("photo",))
    return await run_in_threadpool(_tick, alerts, records, a, desk, n, body, files["photo"], principal, language, tz)


def _tick(alerts: AlertDesk, records: RecordDesk, a: Alert, desk: SiteDesk, n: int, body: StepTick,
          files: list[tuple[str, bytes]], principal: Principal, language: str, tz: Any) -> RunPublic:
    """Keep the photos, note that the step uses them, tick it; a tick refused after all (another got there first)
    takes the note back, and its photos are unused uploads the sweep removes."""
    site = desk.campus.site.id
    uploads = check_photos(records, files)
    photos = list(dict.fromkeys([*body.photos, *(u.sha256 for u in uploads)]))
    if photos:
        for sha in records.store.unowned(site, body.photos):
            raise HTTPException(422, f"file {sha[:16]}… was not uploaded for site {site}: POST the photo to "
                                     f"/api/v1/photos?site={site} first, or send it with the tick as multipart")
        records.keep(site, uploads)
        with records.store.tx():
            records.store.use(site, "plan-step", step_use(a.id, n), photos)
    try:
        with alerts.lock:
            desk.book.tick(a.id, n, principal.name, body.note, photos, alerts.clock.now_ms())
    except Exception:
        if photos:
            with records.store.tx():
                records.store.unuse(site, "plan-step", step_use(a.id, n), photos)
        raise
    a, desk, run = _run_of(alerts, a.id, principal.scope)
    return run_public(desk, a, run, principal.scope, language, tz, alerts.clock.now_ms())


@router.get("/alerts/{alert_id}/report", summary="The incident report (事件报告) of an alert with a plan: summary, "
            "steps and timeline; a drill's: its record (演练记录)",
            responses={200: {"content": {"application/pdf": {}}, "description": "PDF, or JSON with format=json"}})
def incident_report(alert_id: AlertId, request: Request, alerts: AlertsDep, principal: PrincipalDep,
                    language: LanguageDep,
                    format: Annotated[Literal["pdf", "json"], Query()] = "pdf") -> Response:
    a = get_alert(alerts, alert_id, principal.scope)
    desk = alerts.of(a)
    run = desk.book.runs.run(a.id)
    drill = Drills(alerts.store).of_alert(a.id) if a.drill is not None else None
    now = alerts.clock.now_ms()
    events = alerts.store.events(a.id)
    if format == "json":
        title, views, _ = incident.tables(a, run, events, desk.book, language, drill, now)
        return Response(incident.as_json(title, views), media_type="application/json")
    body = incident.render(a, run, events, desk.book, language, drill, now, request.app.state.settings.report)
    made = dt.datetime.fromtimestamp(now / 1000, desk.book.settings.tz).strftime("%Y%m%d")
    name = f"{'drill-' + str(drill.id) if drill else 'incident-' + str(a.id)}-{made}.pdf"
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})
