"""The security review's probes (#21), in the suite for every route the app has: scoped reads and writes, oversized
and nested JSON, malformed multipart. ``ROUTES`` classifies each route (method and path) of the app; a route that
is in the app but not in the table fails :func:`test_every_route_of_the_app_is_probed`, so a new route cannot skip
the probes.

One app over two sites, 育才 (yucai) and 明德 (mingde), the same ids in both. What a token may not see must neither
answer with data nor say it exists:

- a token of the other site (an admin scoped to mingde) asking for yucai's objects gets 404 (or 403), and nothing it
  gets back names yucai;
- a token narrowed to yucai's north zone (an admin) or to one building of it (an electrician) asking for the south
  zone's objects gets 404 (or 403), or an answer that names nothing of the south zone;
- every write to yucai's south zone, by the other site's admin or by the narrowed tokens, is 404 or 403;
- every route that takes a body answers oversized JSON 413, nested JSON 400 or 422, and malformed multipart 4xx:
  never 500.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from api.access import Scope
from api.app import create_app
from api.deps import Viewer
from api.tokens import TokenStore
from app.samples import sample_billing, sample_plans
from app.settings import load_settings
from campus.clock import FrozenClock
from campus.db import DataDir
from ingest.decode import Inbound
from tests.support.district import at_site, district_dir
from tests.support.drive import inbound, simulation
from tests.support.harness import TZ, token_headers
from tests.support.records import ms, png
from tests.support.stack import Stack

START = datetime(2026, 3, 10, 6, tzinfo=TZ)
NOW = datetime(2026, 3, 10, 10, 30, tzinfo=TZ)
MONTH = "2026-03"
# what an answer to the other site's token must never hold
YUCAI = ("yucai", "育才")
# what an answer to a token narrowed to the north zone (or a building of it) must never hold: the south zone's
# building, its drinking fountain, the hazard, round and water test recorded there
SOUTH = ("teach-a", "ta-fountain", "教学楼A栋", "zone-south", "南区")


@dataclass(frozen=True)
class Route:
    """How one route is probed. ``read``: the URL of a GET naming yucai's south-zone objects (``{name}`` filled
    from :class:`Made`), or None for a route that holds no site's data. ``names_site``: the URL says which site
    (path, ``site=`` or an object's id), so the other site's token must get 404/403, not its own site's data.
    ``write``: (URL, JSON body) of a write to yucai's south zone. ``body``: what the route reads: "json", "record"
    (JSON or multipart with files), "multipart" (files only) or None (no body)."""

    family: str
    read: str | None = None
    names_site: bool = True
    write: tuple[str, dict[str, Any] | None] | None = None
    body: str | None = None


_SOUTH_HAZARD = {"title": "教学楼A栋三楼走廊灯具松动", "building": "teach-a"}
_SOUTH_ROUND = {"template": "zone-patrol", "zone": "zone-south",
                "items": [{"item": i, "ok": True, "note": ""} for i in range(5)]}
_SOUTH_TEST = {"point": "ta-fountain", "taken_at": "2026-03-10T09:00:00+08:00", "kind": "self",
               "values": {"ph": 7.2}}
_SOUTH_READING = {"site": "yucai", "device": "ta-water", "values": {"volume_m3": 9000.0}}  # a south meter
_DEVICE = {"id": "ta-new", "kind": "electricity", "building": "teach-a"}
_BILL = {"kind": "electricity", "supplier": "国网某市供电公司", "period": {"from": "2026-02-01", "to": "2026-02-28"},
         "quantities": {"total": "1000"}, "amount": "600.00"}  # the whole site's: its incomer
_SOUTH_FUEL = {"payer": "teaching", "day": "2026-03-09", "fuel": "lpg", "quantity": "2", "unit": "bottle",
               "kg_per_bottle": "14.5", "unit_price": "120", "supplier": "液化气站"}
_SOUTH_MEALS = {"payer": "teaching", "day": "2026-03-09", "meals": 300}
_SOUTH_DRILL = {"plan": "power-loss", "building": "teach-a"}
_SOUTH_GATEWAY = {"name": "教学楼A集中器", "building": "teach-a",
                  "buses": [{"name": "rs485-1", "serial": "/dev/ttyUSB0"}]}

# (method, path) → how it is probed; every route of the app is here or in NOT_PROBED
ROUTES: dict[tuple[str, str], Route] = {
    # open, or the caller's own: no site's data
    ("GET", "/api/v1/health"): Route("open"),
    ("GET", "/api/v1/me"): Route("open"),
    ("GET", "/api/v1/rules"): Route("open"),
    ("GET", "/api/v1/inspections/templates"): Route("open"),
    ("GET", "/api/v1/sites"): Route("sites", "/api/v1/sites", names_site=False),
    # the campus and its devices
    ("GET", "/api/v1/campus"): Route("campus", "/api/v1/campus?site=yucai"),
    ("GET", "/api/v1/gateways"): Route("campus", "/api/v1/gateways?site=yucai"),
    ("GET", "/api/v1/gateways/{gateway_id}/campus"): Route("campus", "/api/v1/gateways/gw-teach-a/campus?site=yucai"),
    ("PUT", "/api/v1/gateways/{gateway_id}"): Route(
        "campus", write=("/api/v1/gateways/gw-teach-a?site=yucai", _SOUTH_GATEWAY), body="json"),
    ("GET", "/api/v1/people"): Route("campus", "/api/v1/people?site=yucai"),
    ("GET", "/api/v1/terms"): Route("campus", "/api/v1/terms?site=yucai"),
    ("GET", "/api/v1/devices"): Route("devices", "/api/v1/devices?site=yucai&building=teach-a"),
    ("POST", "/api/v1/devices"): Route("devices", write=("/api/v1/devices?site=yucai", _DEVICE), body="json"),
    ("GET", "/api/v1/devices/{device_id}"): Route("devices", "/api/v1/devices/ta-fountain?site=yucai"),
    ("PATCH", "/api/v1/devices/{device_id}"): Route(
        "devices", write=("/api/v1/devices/ta-fountain?site=yucai", {"name": "x"}), body="json"),
    ("DELETE", "/api/v1/devices/{device_id}"): Route("devices", write=("/api/v1/devices/ta-elec?site=yucai", None)),
    ("GET", "/api/v1/devices/{device_id}/readings"): Route("devices",
                                                           "/api/v1/devices/ta-fountain/readings?site=yucai"),
    ("GET", "/api/v1/devices/{device_id}/latest"): Route("devices", "/api/v1/devices/ta-fountain/latest?site=yucai"),
    ("GET", "/api/v1/sites/{site}/devices"): Route("devices", "/api/v1/sites/yucai/devices?building=teach-a"),
    ("POST", "/api/v1/sites/{site}/devices"): Route("devices", write=("/api/v1/sites/yucai/devices", _DEVICE),
                                                    body="json"),
    ("GET", "/api/v1/sites/{site}/devices/{device_id}"): Route("devices", "/api/v1/sites/yucai/devices/ta-fountain"),
    ("PATCH", "/api/v1/sites/{site}/devices/{device_id}"): Route(
        "devices", write=("/api/v1/sites/yucai/devices/ta-fountain", {"name": "x"}), body="json"),
    ("DELETE", "/api/v1/sites/{site}/devices/{device_id}"): Route(
        "devices", write=("/api/v1/sites/yucai/devices/ta-elec", None)),
    ("GET", "/api/v1/sites/{site}/devices/{device_id}/readings"): Route(
        "devices", "/api/v1/sites/yucai/devices/ta-fountain/readings"),
    ("GET", "/api/v1/sites/{site}/devices/{device_id}/latest"): Route(
        "devices", "/api/v1/sites/yucai/devices/ta-fountain/latest"),
    # what ingest refused
    ("GET", "/api/v1/dead-letters"): Route("dead letters", "/api/v1/dead-letters?site=yucai"),
    ("POST", "/api/v1/dead-letters/{letter_id}/replay"): Route(
        "dead letters", write=("/api/v1/dead-letters/{letter}/replay", None)),
    # use and reports
    ("GET", "/api/v1/consumption"): Route("reports", "/api/v1/consumption?site=yucai&group_by=building"),
    ("GET", "/api/v1/flow"): Route("reports", f"/api/v1/flow?site=yucai&month={MONTH}"),
    ("GET", "/api/v1/water-quality"): Route("reports", "/api/v1/water-quality?site=yucai"),
    ("GET", "/api/v1/reports/energy"): Route("reports", f"/api/v1/reports/energy?site=yucai&month={MONTH}"),
    ("GET", "/api/v1/reports/district"): Route("reports", f"/api/v1/reports/district?month={MONTH}", names_site=False),
    ("GET", "/api/v1/reports/energy/year/{year}"): Route("reports", "/api/v1/reports/energy/year/2026?site=yucai"),
    ("GET", "/api/v1/reports/energy/term/{term}"): Route("reports",
                                                         "/api/v1/reports/energy/term/2026春季学期?site=yucai"),
    ("GET", "/api/v1/reports/bulletin/{month}"): Route("reports", f"/api/v1/reports/bulletin/{MONTH}?site=yucai"),
    ("GET", "/api/v1/bulletins/{month}"): Route("reports", f"/api/v1/bulletins/{MONTH}?site=yucai"),
    ("POST", "/api/v1/reports/energy/{month}/file"): Route(
        "reports", write=(f"/api/v1/reports/energy/{MONTH}/file?site=yucai", None)),
    ("GET", "/api/v1/reports/filed"): Route("reports", "/api/v1/reports/filed?site=yucai"),
    ("GET", "/api/v1/reports/filed/{month}"): Route("reports", f"/api/v1/reports/filed/{MONTH}?site=yucai"),
    ("GET", "/api/v1/sweep"): Route("reports", "/api/v1/sweep?site=yucai"),
    ("GET", "/api/v1/water/balance"): Route("reports", f"/api/v1/water/balance?site=yucai&month={MONTH}"),
    ("GET", "/api/v1/water/night-flow"): Route("reports", "/api/v1/water/night-flow?site=yucai&weeks=1"),
    ("GET", "/api/v1/water/indicators"): Route("reports", f"/api/v1/water/indicators?site=yucai&month={MONTH}"),
    ("POST", "/api/v1/sweep"): Route("reports", write=("/api/v1/sweep?site=yucai", None)),
    # the canteens' fuel account (the canteens are the north zone's: a write names teaching, the south's payer;
    # the sample tariffs begin in July 2026)
    ("GET", "/api/v1/fuel/account/{month}"): Route("fuel", "/api/v1/fuel/account/2026-07?site=yucai"),
    ("GET", "/api/v1/fuel/deliveries"): Route("fuel", "/api/v1/fuel/deliveries?site=yucai"),
    ("POST", "/api/v1/fuel/deliveries"): Route("fuel", write=("/api/v1/fuel/deliveries?site=yucai", _SOUTH_FUEL),
                                               body="json"),
    ("GET", "/api/v1/fuel/meals"): Route("fuel", "/api/v1/fuel/meals?site=yucai"),
    ("POST", "/api/v1/fuel/meals"): Route("fuel", write=("/api/v1/fuel/meals?site=yucai", _SOUTH_MEALS), body="json"),
    # records: photos and files, rounds, hazards, water tests
    ("POST", "/api/v1/photos"): Route("records", body="multipart"),
    ("GET", "/api/v1/files/{sha256}"): Route("records", "/api/v1/files/{photo}"),
    ("GET", "/api/v1/inspections"): Route("records", "/api/v1/inspections?site=yucai"),
    ("POST", "/api/v1/inspections"): Route("records", write=("/api/v1/inspections?site=yucai", _SOUTH_ROUND),
                                           body="record"),
    ("GET", "/api/v1/inspections/due"): Route("records", "/api/v1/inspections/due?site=yucai"),
    ("GET", "/api/v1/inspections/{round_id}"): Route("records", "/api/v1/inspections/{round}?site=yucai"),
    ("GET", "/api/v1/hazards"): Route("records", "/api/v1/hazards?site=yucai"),
    ("POST", "/api/v1/hazards"): Route("records", write=("/api/v1/hazards?site=yucai", _SOUTH_HAZARD),
                                       body="record"),
    ("GET", "/api/v1/hazards/{hazard_id}"): Route("records", "/api/v1/hazards/{hazard}?site=yucai"),
    ("PATCH", "/api/v1/hazards/{hazard_id}"): Route(
        "records", write=("/api/v1/hazards/{hazard}?site=yucai", {"status": "fixed", "note": "x"}), body="record"),
    ("GET", "/api/v1/water-tests"): Route("records", "/api/v1/water-tests?site=yucai"),
    ("POST", "/api/v1/water-tests"): Route("records", write=("/api/v1/water-tests?site=yucai", _SOUTH_TEST),
                                           body="record"),
    ("GET", "/api/v1/water-tests/points"): Route("records", "/api/v1/water-tests/points?site=yucai"),
    ("GET", "/api/v1/water-tests/notice"): Route("records", "/api/v1/water-tests/notice?site=yucai&point=ta-fountain"),
    ("POST", "/api/v1/readings/manual"): Route("records", write=("/api/v1/readings/manual?site=yucai", _SOUTH_READING),
                                               body="record"),
    ("GET", "/api/v1/readings/manual"): Route("records", "/api/v1/readings/manual?site=yucai"),
    ("GET", "/api/v1/readings/manual/due"): Route("records", "/api/v1/readings/manual/due?site=yucai"),
    # the annual return (公共机构能源资源消费统计): the whole site's (site-wide tokens only)
    ("GET", "/api/v1/returns/{year}"): Route("returns", "/api/v1/returns/2026?site=yucai"),
    ("PUT", "/api/v1/returns/{year}/entries"): Route(
        "returns", write=("/api/v1/returns/2026/entries?site=yucai", {"values": {"floor_area_m2": 1000}}),
        body="json"),
    # the suppliers' bills: the whole site's (site-wide tokens only)
    ("POST", "/api/v1/bills"): Route("billing", write=("/api/v1/bills?site=yucai", _BILL), body="json"),
    ("GET", "/api/v1/bills"): Route("billing", "/api/v1/bills?site=yucai"),
    ("GET", "/api/v1/bills/{bill_id}"): Route("billing", "/api/v1/bills/{bill}?site=yucai"),
    ("GET", "/api/v1/bills/{bill_id}/reconciliation"): Route(
        "billing", "/api/v1/bills/{bill}/reconciliation?site=yucai"),
    ("DELETE", "/api/v1/bills/{bill_id}"): Route("billing", write=("/api/v1/bills/{bill}?site=yucai&reason=x", None)),
    # costs: statements (the teaching payer's meters are the south zone's), payers, tariffs
    ("GET", "/api/v1/statements/{month}"): Route("billing", f"/api/v1/statements/{MONTH}?site=yucai&payer=teaching"),
    ("POST", "/api/v1/statements/{month}/file"): Route(
        "billing", write=(f"/api/v1/statements/{MONTH}/file?site=yucai&payer=teaching", None)),
    ("GET", "/api/v1/statements/filed"): Route("billing", "/api/v1/statements/filed?site=yucai"),
    ("GET", "/api/v1/statements/filed/{month}"): Route(
        "billing", f"/api/v1/statements/filed/{MONTH}?site=yucai&payer=teaching"),
    ("GET", "/api/v1/payers"): Route("billing", "/api/v1/payers?site=yucai"),
    ("GET", "/api/v1/tariffs"): Route("billing", "/api/v1/tariffs?site=yucai"),
    ("GET", "/api/v1/payers/{payer}/allowance"): Route("billing", "/api/v1/payers/teaching/allowance?site=yucai"),
    # alerts
    ("GET", "/api/v1/alerts"): Route("alerts", "/api/v1/alerts?site=yucai"),
    ("GET", "/api/v1/alerts/evaluation-failures"): Route("alerts", "/api/v1/alerts/evaluation-failures?site=yucai"),
    ("GET", "/api/v1/alerts/{alert_id}"): Route("alerts", "/api/v1/alerts/{alert}"),
    ("GET", "/api/v1/alerts/{alert_id}/events"): Route("alerts", "/api/v1/alerts/{alert}/events"),
    ("POST", "/api/v1/alerts/{alert_id}/ack"): Route("alerts", write=("/api/v1/alerts/{alert}/ack", {}), body="json"),
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): Route(
        "alerts", write=("/api/v1/alerts/{alert}/resolve", {"reason": "x"}), body="json"),
    # emergency plans, their runs and drills (the south zone's: the fountain's alert, the power room's photo, a
    # drill in teaching building A)
    ("GET", "/api/v1/plans"): Route("emergency", "/api/v1/plans?site=yucai"),
    ("GET", "/api/v1/plans/{plan_id}"): Route("emergency", "/api/v1/plans/power-loss?site=yucai"),
    ("GET", "/api/v1/plans/{plan_id}/places/{n}/photo"): Route("emergency",
                                                               "/api/v1/plans/power-loss/places/1/photo?site=yucai"),
    ("GET", "/api/v1/alerts/{alert_id}/plan"): Route("emergency", "/api/v1/alerts/{alert}/plan"),
    ("POST", "/api/v1/alerts/{alert_id}/plan/steps/{n}"): Route(
        "emergency", write=("/api/v1/alerts/{alert}/plan/steps/1", {"note": "x"}), body="record"),
    ("GET", "/api/v1/alerts/{alert_id}/report"): Route("emergency", "/api/v1/alerts/{alert}/report"),
    ("POST", "/api/v1/plans/{plan_id}/start"): Route(
        "emergency", write=("/api/v1/plans/power-loss/start?site=yucai", {"building": "teach-a", "note": "x"}),
        body="json"),
    ("POST", "/api/v1/drills"): Route("emergency", write=("/api/v1/drills?site=yucai", _SOUTH_DRILL), body="json"),
    ("GET", "/api/v1/drills"): Route("emergency", "/api/v1/drills?site=yucai"),
    ("GET", "/api/v1/drills/due"): Route("emergency", "/api/v1/drills/due?site=yucai"),
    ("GET", "/api/v1/drills/{drill_id}"): Route("emergency", "/api/v1/drills/{drill}?site=yucai"),
    ("GET", "/api/v1/drills/{drill_id}/record"): Route("emergency", "/api/v1/drills/{drill}/record?site=yucai"),
    # the signed one-tap acknowledge link: open, its signature is its access (tests/api/test_alerts_api.py)
    ("GET", "/api/v1/alerts/{alert_id}/ack"): Route("open"),
    # tokens: an unscoped admin's
    ("GET", "/api/v1/tokens"): Route("tokens", "/api/v1/tokens?site=yucai"),
    ("POST", "/api/v1/tokens"): Route("tokens", write=("/api/v1/tokens", {"name": "probe", "role": "viewer",
                                                                         "sites": ["yucai"]}), body="json"),
    ("DELETE", "/api/v1/tokens/{name}"): Route("tokens", write=("/api/v1/tokens/north-admin", None)),
}
# routes of the app that hold no site's data and take no body: the console, its files, the API's own description
NOT_PROBED = {("GET", "/"), ("GET", "/static"), ("GET", "/openapi.json"), ("GET", "/docs"),
              ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc"), ("GET", "/metrics")}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, HEAD aside; routers included into the app are walked into."""

    def walk(routes: Iterable[Any]) -> Iterator[tuple[str, str]]:
        for route in routes:
            inner = getattr(route, "effective_candidates", None)  # FastAPI's included routers
            if inner is not None:
                yield from walk(inner())
            elif hasattr(route, "routes") and not hasattr(route, "methods"):  # a mount
                yield ("GET", route.path)
            else:
                yield from ((m, route.path) for m in route.methods or () if m != "HEAD")

    return set(walk(app.routes))


@dataclass
class Made:
    """yucai's south-zone objects the probes name, and the tokens that probe them."""

    ids: dict[str, str] = field(default_factory=dict)
    other: dict[str, str] = field(default_factory=dict)  # an admin of mingde
    north: dict[str, str] = field(default_factory=dict)  # an admin of yucai's north zone
    dorm: dict[str, str] = field(default_factory=dict)  # an electrician of yucai's 学生宿舍1号楼

    def url(self, template: str) -> str:
        return template.format(**self.ids)


def _token(data: Path, name: str, role: str, scope: Scope) -> dict[str, str]:
    store = TokenStore(DataDir(data).state)
    try:
        return {"Authorization": f"Bearer {store.create(name, role, scope)}"}
    finally:
        store.close()


@pytest.fixture(scope="module")
def probed(app_stack: Callable[..., Stack], tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[tuple[TestClient, Made]]:
    pubs = simulation(START, 4, ["ph_excursion:ta-fountain", "ph_excursion:d1-fountain"]).publications()
    yucai = list(pubs)
    batch = sorted(inbound(yucai) + inbound(at_site(yucai, "mingde")), key=lambda m: m.received_ms)
    stack = app_stack(district_dir(tmp_path_factory.mktemp("probe-campus")), batch, name="probes",
                      report={"refresh_s": 0}, billing={"file": sample_billing()},
                      records={"plans_file": sample_plans()})
    app = stack.app(FrozenClock(ms(NOW)))
    admin = token_headers(stack.data)
    with TestClient(app, headers=admin) as c:
        made = Made()
        stack.ingest.pipeline.commit([Inbound("campus/yucai/ta-nowhere/reading", b'{"values":{"ph":7}}', ms(NOW))])
        with stack.alerts.store.tx():
            stack.alerts.store.record_failure("campus/yucai/ta-fountain/reading", b"{}", "a rule's own bug", 0)
        hazard = c.post("/api/v1/hazards?site=yucai", data={"record": json.dumps(_SOUTH_HAZARD)},
                        files=[("photo", ("south.png", png(), "image/png"))])
        assert hazard.status_code == 201, hazard.text
        round_ = c.post("/api/v1/inspections?site=yucai", json=_SOUTH_ROUND)
        assert round_.status_code == 201, round_.text
        test = c.post("/api/v1/water-tests?site=yucai", json=_SOUTH_TEST)
        assert test.status_code == 201, test.text
        assert c.post(f"/api/v1/reports/energy/{MONTH}/file?site=yucai").status_code == 201
        bill = c.post("/api/v1/bills?site=yucai", json=_BILL)
        assert bill.status_code == 201, bill.text
        filed = c.post(f"/api/v1/statements/{MONTH}/file?site=yucai&payer=teaching")
        assert filed.status_code == 201, filed.text
        alert = next(a for a in c.get("/api/v1/alerts?site=yucai&limit=1000").json() if a["subject"] == "ta-fountain")
        assert alert["plan"] == "drinking-water"
        drill = c.post("/api/v1/drills?site=yucai", json=_SOUTH_DRILL)
        assert drill.status_code == 201, drill.text
        letter = c.get("/api/v1/dead-letters?site=yucai").json()[0]
        made.ids = {"hazard": str(hazard.json()["id"]), "photo": hazard.json()["steps"][0]["photos"][0],
                    "round": str(round_.json()["id"]), "test": str(test.json()["id"]), "alert": str(alert["id"]),
                    "letter": str(letter["id"]),
                    "bill": str(bill.json()["id"]), "drill": str(drill.json()["id"])}
        made.other = _token(stack.data, "mingde-admin", "admin", Scope.of(sites=["mingde"]))
        made.north = _token(stack.data, "north-admin", "admin", Scope.of(sites=["yucai"], zones=["zone-north"]))
        made.dorm = _token(stack.data, "dorm-1", "electrician", Scope.of(sites=["yucai"], buildings=["dorm-1"]))
        yield c, made


def test_every_route_of_the_app_is_probed(probed: tuple[TestClient, Made]) -> None:
    """A route added to the app without a line in ROUTES (or NOT_PROBED) fails here: classify it."""
    c, _ = probed
    routes = app_routes(c.app)  # type: ignore[arg-type]
    assert routes - set(ROUTES) - NOT_PROBED == set(), "routes the probes do not know: add them to ROUTES"
    assert set(ROUTES) - routes == set(), "ROUTES names routes the app no longer has"


# Probes that fail on this branch only because another helper of #21 fixes their cause in parallel (strict: once
# fixed, the XPASS fails, and its line here goes). The lead removes each line when merging that helper's branch.
OTHERS: dict[tuple[str, str, str], str] = {}


def test_a_route_added_to_the_app_is_one_the_probes_do_not_know(tmp_path: Path) -> None:
    """The walk over the app's routes sees a route added through a router, as a new router module would be."""
    app = create_app(load_settings(None, data_dir=tmp_path))
    extra = APIRouter()

    @extra.post("/novel")
    def novel() -> None: ...

    app.include_router(extra, prefix="/api/v1", dependencies=[Viewer])
    assert app_routes(app) - set(ROUTES) - NOT_PROBED == {("POST", "/api/v1/novel")}


def _params(method: str, family: Callable[[Route], bool], probe: str) -> list[Any]:
    return [pytest.param(m, p, id=f"{m} {p}", marks=[pytest.mark.xfail(strict=True, reason=OTHERS[(probe, m, p)])]
                         if (probe, m, p) in OTHERS else []) for (m, p), r in ROUTES.items()
            if m == method and family(r)]


def _says(got: Any, markers: tuple[str, ...], asked: str) -> list[str]:
    """The markers an answer holds; a refusal may say back what the request itself asked for."""
    return [m for m in markers if m in got.text and (got.is_success or m not in asked)]


@pytest.mark.parametrize(("method", "path"), _params("GET", lambda r: r.read is not None, "read"))
def test_reads_show_nothing_out_of_scope(probed: tuple[TestClient, Made], method: str, path: str) -> None:
    c, made = probed
    route = ROUTES[(method, path)]
    assert route.read is not None
    url = made.url(route.read)
    mine = c.get(url)
    assert mine.status_code == 200, (url, mine.text[:300])  # there is something to leak
    other = c.get(url, headers=made.other)
    if route.names_site:
        assert other.status_code in (403, 404), (url, other.status_code, other.text[:300])
    assert not _says(other, YUCAI, url), (url, other.text[:300])
    for name, narrowed in (("north-admin", made.north), ("dorm-1", made.dorm)):
        got = c.get(url, headers=narrowed)
        assert got.status_code in (200, 403, 404), (name, url, got.status_code, got.text[:300])
        leaked = _says(got, SOUTH, url)
        assert not leaked, (name, url, leaked, got.text[:300])


@pytest.mark.parametrize(("method", "path"), [p for m in ("POST", "PATCH", "PUT", "DELETE")
                                               for p in _params(m, lambda r: r.write is not None, "write")])
def test_writes_out_of_scope_are_404_or_403(probed: tuple[TestClient, Made], method: str, path: str) -> None:
    c, made = probed
    route = ROUTES[(method, path)]
    assert route.write is not None
    url, body = route.write
    url = made.url(url)
    for name, token in (("mingde-admin", made.other), ("north-admin", made.north), ("dorm-1", made.dorm)):
        got = c.request(method, url, json=body, headers=token)
        assert got.status_code in (403, 404), (name, method, url, got.status_code, got.text[:300])
        asked = url + json.dumps(body, ensure_ascii=False)
        assert not _says(got, YUCAI if name == "mingde-admin" else SOUTH, asked), (name, url, got.text[:300])


def _bodied(method: str) -> list[Any]:
    return _params(method, lambda r: r.body is not None or r.write is not None, "body")


NESTED = b"[" * 100_000 + b"]" * 100_000  # 200 KB: inside [api] max_body_bytes, past any parser's depth


def _multipart(boundary: str, *parts: tuple[str, str | None, bytes]) -> bytes:
    out = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


MALFORMED_MULTIPART: dict[str, tuple[str, bytes]] = {
    "truncated boundary": ("multipart/form-data; boundary=xyz",
                           _multipart("xyz", ("record", None, b"{}"))[:-8]),
    "no boundary": ("multipart/form-data", _multipart("xyz", ("record", None, b"{}"))),
    "wrong field": ("multipart/form-data; boundary=xyz",
                    _multipart("xyz", ("record", None, b"{}"), ("evil", "x.png", png()))),
    "record is a file": ("multipart/form-data; boundary=xyz", _multipart("xyz", ("record", "r.json", b"{}"))),
    "nested record": ("multipart/form-data; boundary=xyz", _multipart("xyz", ("record", None, NESTED))),
    "oversized record": ("multipart/form-data; boundary=xyz",
                         _multipart("xyz", ("record", None, b'{"note": "' + b"x" * (1024 * 1024) + b'"}'))),
    "garbage": ("multipart/form-data; boundary=xyz", b"\x00\xff--xyz\r\n\r\n\r\n--"),
}


@pytest.mark.parametrize(("method", "path"), [*_bodied("POST"), *_bodied("PATCH"), *_bodied("PUT")])
def test_hostile_bodies_are_4xx_never_500(probed: tuple[TestClient, Made], method: str, path: str) -> None:
    c, made = probed
    route = ROUTES[(method, path)]
    url = made.url(route.write[0] if route.write else path)
    oversized = c.request(method, url, content=b"[" + b"0," * (1024 * 1024 // 2) + b"0]",
                          headers={"Content-Type": "application/json"})
    assert oversized.status_code == 413, (url, oversized.text[:200])
    nested = c.request(method, url, content=NESTED, headers={"Content-Type": "application/json"})
    if route.body is None:  # a route that reads no body answers as it would without one
        assert nested.status_code < 500, (url, nested.status_code, nested.text[:200])
    else:
        assert nested.status_code in (400, 415, 422), (url, nested.status_code, nested.text[:200])
    for what, (kind, content) in MALFORMED_MULTIPART.items():
        got = c.request(method, url, content=content, headers={"Content-Type": kind})
        if route.body is None:
            assert got.status_code < 500, (what, url, got.status_code, got.text[:200])
        else:
            assert 400 <= got.status_code < 500, (what, url, got.status_code, got.text[:200])
