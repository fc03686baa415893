"""Drills (应急演练): POST /drills starts one (admin) on a device or building, raising a real alert of the plan's kind
marked 演练; GET /drills lists them with what each measured; GET /drills/due says which plans are due or overdue
for one; GET /drills/{id}/record is its record (PDF)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from alerts.desk import AlertDesk, SiteDesk
from alerts.store import Alert
from api.access import Scope
from api.deps import AlertsDep, CampusDep, LanguageDep, PageDep, PrincipalDep, RecordsDep, TimezoneDep, require
from api.routers.plans import in_view, plans_of, site_desk
from api.schemas.emergency import (
    ChainPublic,
    ChainStagePublic,
    DrillCreate,
    DrillPublic,
    DueDrillPublic,
    FiguresPublic,
)
from api.timefmt import from_ms
from api.tokens import Principal, Role
from campus.errors import NotFound
from emergency.chain import as_record
from emergency.drills import Drill, Drills, figures, first_notice_ms
from emergency.incident import drill_record
from emergency.schedule import due_drills

router = APIRouter(tags=["emergency"])
CHAIN_WAIT_S = 10.0  # the technical drill waits this long for ingest's and the alert engine's word
DrillId = Annotated[int, Path(ge=1, le=2**62, description="drill id")]


def _sees(scope: Scope, desk: SiteDesk, d: Drill) -> bool:
    return scope.sees(d.site, d.building, d.zone)


def drill_public(alerts: AlertDesk, desk: SiteDesk, d: Drill, language: str, tz: Any) -> DrillPublic:
    plan = plans_of(desk).get(d.plan)
    alert: Alert | None = alerts.store.get(d.alert_id) if d.alert_id is not None else None
    figs = None
    if alert is not None:
        f = figures(alert, desk.book.runs.run(alert.id), first_notice_ms(alerts.store, alert.id), alerts.clock.now_ms())
        figs = FiguresPublic(first_notice_s=f.first_notice_s, ack_s=f.ack_s, resolved_s=f.resolved_s,
                             steps_s=[s.done_s for s in f.steps], skipped=f.skipped, late=f.late)
    chain = None
    if d.chain_result is not None:
        c = d.chain_result
        lg = "en" if language.startswith("en") else "zh"
        chain = ChainPublic(ok=bool(c.get("ok")), said=str((c.get("said") or {}).get(lg, "")),
                            stages=[ChainStagePublic(stage=str(s.get("stage")), ok=bool(s.get("ok")),
                                                     said=str((s.get("said") or {}).get(lg, "")))
                                    for s in c.get("stages", [])])
    return DrillPublic(id=d.id, site=d.site, plan=d.plan, plan_name=plan.name.text(language) if plan else d.plan,
                       building=d.building, building_name=desk.names.building(d.building), device=d.device,
                       device_name=desk.names.device(d.device), started=from_ms(d.started_ms, tz),
                       started_by=d.started_by, alert_id=d.alert_id,
                       status="finished" if alert is not None and alert.status == "resolved" else "running",
                       chain=chain, figures=figs)


@router.post("/drills", response_model=DrillPublic, status_code=201,
             summary="Start a drill of a plan on a device or building: a real alert marked 演练, routed and escalated "
                     "as a real one; with chain, a technical drill of the path from the device first")
async def start_drill(body: DrillCreate, request: Request, alerts: AlertsDep, campus: CampusDep, tz: TimezoneDep,
                      language: LanguageDep,
                      principal: Annotated[Principal, Depends(require(Role.ADMIN))]) -> DrillPublic:
    desk = site_desk(alerts, campus.site.id)
    site = campus.site.id
    in_view(campus, body.device, body.building)
    if body.plan not in plans_of(desk):
        known = ", ".join(plans_of(desk)) or "none (set [records] plans_file)"
        raise NotFound(f"no emergency plan {body.plan!r} at site {site}; plans: {known}")
    chain = None
    if body.chain:
        check = getattr(request.app.state, "chain", None)
        if check is None:
            raise HTTPException(422, "chain: a technical drill needs the broker, and this server runs without a "
                                     "broker connection ([mqtt] url); start the drill without chain")
        if body.device is None:
            raise HTTPException(422, "a technical drill (chain) checks the path from one device: name the device")
        tag = f"{alerts.clock.now_ms():x}-{secrets.token_hex(6)}"  # its own answer topics: never another check's
        chain = as_record(await run_in_threadpool(check.run, site, body.device, tag, CHAIN_WAIT_S))
    def start() -> DrillPublic:
        with alerts.lock:
            d = Drills(alerts.store).start(desk, body.plan, device=body.device, building=body.building,
                                           by=principal.name, now_ms=alerts.clock.now_ms(), chain=chain,
                                           language=alerts.language)
        return drill_public(alerts, desk, d, language, tz)

    return await run_in_threadpool(start)


@router.get("/drills", response_model=list[DrillPublic], summary="A site's drills, the newest first, with what "
            "each measured (time to the first message, to the acknowledgement, to each step, to the resolution)")
def list_drills(alerts: AlertsDep, campus: CampusDep, principal: PrincipalDep, tz: TimezoneDep, page: PageDep,
                response: Response, language: LanguageDep) -> list[DrillPublic]:
    desk = site_desk(alerts, campus.site.id)
    rows = [d for d in Drills(alerts.store).of_site(campus.site.id) if _sees(principal.scope, desk, d)]
    return [drill_public(alerts, desk, d, language, tz) for d in page.of(rows, response)]


@router.get("/drills/due", response_model=list[DueDrillPublic],
            summary="The plans whose drill is due in the current term (month, year) or overdue")
def drills_due(alerts: AlertsDep, records: RecordsDep, campus: CampusDep, tz: TimezoneDep,
               language: LanguageDep) -> list[DueDrillPublic]:
    desk = site_desk(alerts, campus.site.id)
    site_tz = ZoneInfo(campus.site.timezone)  # the site's days, whatever zone the answer's times are shown in
    today = records.today(records.context(campus.site.id))
    got = due_drills(list(plans_of(desk).values()), desk.campus.calendar,
                     Drills(alerts.store).last_started(campus.site.id), today, site_tz, records.settings.grace_days)
    return [DueDrillPublic(plan=d.plan.id, plan_name=d.plan.name.text(language), every=d.plan.drill,
                           window_start=d.window.start, window_end=d.window.end, status=d.status,  # type: ignore[arg-type]
                           last=from_ms(d.last_ms, tz)) for d in got]


def _drill(alerts: AlertDesk, campus_site: str, drill_id: int, scope: Scope) -> tuple[Drill, SiteDesk]:
    d = Drills(alerts.store).get(drill_id)
    desk = site_desk(alerts, d.site)
    if d.site != campus_site or not _sees(scope, desk, d):
        raise NotFound(f"no drill #{drill_id}")
    return d, desk


@router.get("/drills/{drill_id}", response_model=DrillPublic, summary="One drill and what it measured")
def one_drill(drill_id: DrillId, alerts: AlertsDep, campus: CampusDep, principal: PrincipalDep, tz: TimezoneDep,
              language: LanguageDep) -> DrillPublic:
    d, desk = _drill(alerts, campus.site.id, drill_id, principal.scope)
    return drill_public(alerts, desk, d, language, tz)


@router.get("/drills/{drill_id}/record", summary="A drill's record (演练记录) as PDF: its figures, steps and timeline",
            responses={200: {"content": {"application/pdf": {}}}})
def drill_record_pdf(drill_id: DrillId, request: Request, alerts: AlertsDep, campus: CampusDep, principal: PrincipalDep,
                 language: LanguageDep) -> Response:
    d, desk = _drill(alerts, campus.site.id, drill_id, principal.scope)
    lang = "en" if language.startswith("en") else "zh-CN"
    body = drill_record(Drills(alerts.store), desk.book, d, lang, alerts.clock.now_ms(),
                        request.app.state.settings.report)
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''drill-{d.id}.pdf"})
