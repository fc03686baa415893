"""The canteens' fuel account (燃料成本核算专账): deliveries and meals entered by hand, and the month's account.

- ``POST /fuel/deliveries``, ``POST /fuel/meals``: an electrician (the operator role) or an admin; who is the
  token's name, when the server's clock. A correction is a new entry (``replaces``), never an edit.
- ``GET /fuel/deliveries``, ``GET /fuel/meals``, ``GET /fuel/account/{month}`` (JSON or XLSX).

Scope: a canteen belongs to the buildings of its meters. A token narrowed to zones or buildings reads and writes
only canteens whose meters all lie in its scope (a canteen without meters: site-wide tokens only); any other
canteen does not exist for it (404). A delivery's receipt photo must have been uploaded for the same site; the
delivery is noted as a use of it (record ``fuel``), so the uploads sweep keeps it, and GET /files/{sha256} gives
it to a token that may see the canteen (:func:`photo_seen`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import closing
from typing import Annotated, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from api.access import Access
from api.deps import CampusDep, Electrician, LanguageDep, PageDep, PrincipalDep, RecordsDep, check_month
from api.routers.statements import BillingDep
from api.schemas.fuel import DeliveryIn, DeliveryPublic, MealsIn, MealsPublic
from billing.book import Book
from billing.config import Payer, PayerType
from billing.desk import BillingDesk
from billing.fuel import Delivery, FuelStore, Meals
from billing.fuel_account import FuelAccount, account, canteens, render_xlsx
from billing.statements import Statement
from campus.db import DataDir
from campus.errors import Invalid, NotFound
from campus.model import Campus
from records.store import NotUploaded

router = APIRouter(tags=["billing"])
Month = Annotated[str, Path(description="YYYY-MM in the site's time zone", examples=["2026-10"], max_length=7)]
MonthQ = Annotated[str | None, Query(max_length=7, description="YYYY-MM; without: every month")]
PayerQ = Annotated[str | None, Query(max_length=64, description="a canteen's payer id; without: every canteen "
                                     "the token may see")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def fuel_store(request: Request) -> Iterator[FuelStore]:
    """The fuel store of ``billing.db``, opened for the request and closed after it."""
    store = FuelStore(DataDir(request.app.state.settings.data_dir).billing)
    try:
        yield store
    finally:
        store.close()


FuelDep = Annotated[FuelStore, Depends(fuel_store)]


def visible(book: Book, campus: Campus, payer: Payer, partial: bool) -> bool:
    """May a token that sees ``campus`` (narrowed; ``partial``: narrowed to zones or buildings) see ``payer``?
    Every meter it holds (and takes off) must be one it sees; a payer without meters is the whole site's."""
    held = book.holdings.get(payer.id, [])
    if not held:
        return not partial
    seen = {d.id for d in campus.devices}
    return all(h.device.id in seen and all(c.id in seen for c in h.less) for h in held)


def _canteens(billing: BillingDesk, campus: Campus, principal: PrincipalDep, payer: str | None) -> tuple[
        Book, list[Payer]]:
    """The site's book and the canteens asked for (``payer``, or every one) that the token may see."""
    book = billing.book(campus.site.id)
    partial = principal.scope.partial
    if payer is None:
        return book, [p for p in canteens(book) if visible(book, campus, p, partial)]
    found = book.payers.get(payer)
    if found is None or not visible(book, campus, found, partial):
        raise NotFound(f"no canteen {payer!r} at site {campus.site.id}")
    if found.type is not PayerType.CANTEEN:
        raise Invalid(f"payer {payer} ({found.name}) is a {found.type.value}, not a canteen: the fuel account is "
                      "kept for payers of type canteen in the billing file")
    return book, [found]


def photo_seen(request: Request, access: Access, sha: str) -> bool:
    """Is ``sha`` the receipt photo of a delivery of a canteen the token may see (GET /files/{sha256})?"""
    billing: BillingDesk = request.app.state.billing
    if not billing.enabled:
        return False
    with closing(FuelStore(DataDir(request.app.state.settings.data_dir).billing)) as store:
        uses = store.photo_uses(sha)
    seen = access.campuses()
    for site, pid in uses:
        campus = seen.get(site)
        if campus is None:
            continue
        book = billing.book(site)  # a billing file broken since says so (503), as every billing route does
        payer = book.payers.get(pid)
        if payer is not None and visible(book, campus, payer, access.scope.partial):
            return True
    return False


def _today(campus: Campus, billing: BillingDesk) -> dt.date:
    return billing.now(campus.site.timezone).date()


def _delivery(d: Delivery, names: dict[str, str], tz: ZoneInfo) -> DeliveryPublic:
    unit, qty = d.counted
    return DeliveryPublic(
        id=d.id, site=d.site, payer=d.payer, payer_name=names.get(d.payer, d.payer), day=d.day, month=d.month,
        fuel=d.fuel, fuel_name=d.fuel_name, quantity=d.quantity, unit=d.unit, kg_per_bottle=d.kg_per_bottle,
        unit_price=d.unit_price, amount=d.amount, counted_unit=unit, counted_quantity=qty, supplier=d.supplier,
        photo=d.photo, photo_url=f"/api/v1/files/{d.photo}" if d.photo else None, note=d.note,
        entered_by=d.entered_by, entered_at=dt.datetime.fromtimestamp(d.entered_ms / 1000, tz), replaces=d.replaces,
        replaced_by=d.replaced_by)


def _meals(m: Meals, names: dict[str, str], tz: ZoneInfo, days_in: set[tuple[str, str]]) -> MealsPublic:
    counted = m.replaced_by is None and (m.is_day or (m.payer, m.month) not in days_in)
    return MealsPublic(id=m.id, site=m.site, payer=m.payer, payer_name=names.get(m.payer, m.payer), period=m.period,
                       meals=m.meals, note=m.note, entered_by=m.entered_by,
                       entered_at=dt.datetime.fromtimestamp(m.entered_ms / 1000, tz), replaces=m.replaces,
                       replaced_by=m.replaced_by, counted=counted)


@router.post("/fuel/deliveries", response_model=DeliveryPublic, status_code=201, dependencies=[Electrician],
             summary="Enter a canteen's fuel delivery (LPG, diesel, coal, other) from its receipt; a correction "
                     "names the delivery it replaces")
def add_delivery(body: DeliveryIn, billing: BillingDep, campus: CampusDep, principal: PrincipalDep,
                 records: RecordsDep, store: FuelDep) -> DeliveryPublic:
    book, (payer,) = _canteens(billing, campus, principal, body.payer)
    site = campus.site.id
    today = _today(campus, billing)
    if body.day > today or body.day < dt.date(2001, 1, 1):
        raise Invalid(f"day {body.day}: a delivery is entered on or after its day (today is {today} at the site), "
                      "and not before 2001")
    now_ms = int(billing.clock() * 1000)
    with records.store.tx():  # the sweep cannot take the photo between the check and its noting
        if body.photo is not None and records.store.unowned(site, [body.photo]):
            raise NotUploaded(f"photo {body.photo[:16]}… was not uploaded for site {site}: POST it to "
                              f"/api/v1/photos?site={site} first, then name its sha256 here")
        d = store.add_delivery(site=site, payer=payer.id, day=body.day, fuel=body.fuel, fuel_name=body.fuel_name,
                               quantity=body.quantity, unit=body.unit, kg_per_bottle=body.kg_per_bottle,
                               unit_price=body.unit_price, supplier=body.supplier, photo=body.photo, note=body.note,
                               by=principal.name, now_ms=now_ms, replaces=body.replaces)
        if d.photo is not None:
            records.store.use_files(site, "fuel", d.id, [d.photo])
    return _delivery(d, {payer.id: payer.name}, ZoneInfo(campus.site.timezone))


@router.get("/fuel/deliveries", response_model=list[DeliveryPublic],
            summary="Fuel deliveries of the canteens the token may see, by date; replaced ones too with replaced=true")
def list_deliveries(billing: BillingDep, campus: CampusDep, principal: PrincipalDep, store: FuelDep, page: PageDep,
                    response: Response, payer: PayerQ = None, month: MonthQ = None,
                    replaced: Annotated[bool, Query(description="also the deliveries corrections replaced")] = False,
                    ) -> list[DeliveryPublic]:
    if month is not None:
        check_month(month)
    _, payers = _canteens(billing, campus, principal, payer)
    names = {p.id: p.name for p in payers}
    got = store.deliveries(campus.site.id, payers=list(names), month=month, current=not replaced)
    tz = ZoneInfo(campus.site.timezone)
    return page.of([_delivery(d, names, tz) for d in got], response)


@router.post("/fuel/meals", response_model=MealsPublic, status_code=201, dependencies=[Electrician],
             summary="Enter a canteen's meals served on a day or in a month; the newest figure for a day (or month) "
                     "replaces the one before, and day figures win over a month figure")
def add_meals(body: MealsIn, billing: BillingDep, campus: CampusDep, principal: PrincipalDep,
              store: FuelDep) -> MealsPublic:
    _, (payer,) = _canteens(billing, campus, principal, body.payer)
    today = _today(campus, billing)
    first = dt.date.fromisoformat(body.period[:7] + "-01")
    if (body.day is not None and body.day > today) or first > today or first.year < 2001:
        raise Invalid(f"{body.period}: meals are entered for a day or month that has begun (today is {today} at "
                      "the site), and not before 2001")
    m = store.add_meals(site=campus.site.id, payer=payer.id, period=body.period, meals=body.meals, note=body.note,
                        by=principal.name, now_ms=int(billing.clock() * 1000))
    return _meals(m, {payer.id: payer.name}, ZoneInfo(campus.site.timezone), set())


@router.get("/fuel/meals", response_model=list[MealsPublic],
            summary="Meals entered for the canteens the token may see; replaced ones too with replaced=true")
def list_meals(billing: BillingDep, campus: CampusDep, principal: PrincipalDep, store: FuelDep, page: PageDep,
               response: Response, payer: PayerQ = None, month: MonthQ = None,
               replaced: Annotated[bool, Query(description="also the figures newer ones replaced")] = False,
               ) -> list[MealsPublic]:
    if month is not None:
        check_month(month)
    _, payers = _canteens(billing, campus, principal, payer)
    names = {p.id: p.name for p in payers}
    got = store.meals(campus.site.id, payers=list(names), month=month, current=not replaced)
    days_in = {(m.payer, m.month) for m in got if m.is_day and m.replaced_by is None}
    tz = ZoneInfo(campus.site.timezone)
    return page.of([_meals(m, names, tz, days_in) for m in got], response)


@router.get("/fuel/account/{month}", response_model=FuelAccount,
            responses={200: {"content": {XLSX: {}}, "description": "JSON (the model below) or XLSX"}},
            summary="The canteens' fuel account (燃料成本核算专账) of a month: gas and delivered fuel in 元, meals, "
                    "cost per meal against the target and the same month last year")
def get_account(month: Month, billing: BillingDep, campus: CampusDep, principal: PrincipalDep, store: FuelDep,
                language: LanguageDep, payer: PayerQ = None,
                format: Annotated[Literal["json", "xlsx"], Query()] = "json") -> Response:
    check_month(month)
    book, payers = _canteens(billing, campus, principal, payer)
    site = campus.site.id
    billers = {}

    def statement(m: str, pid: str) -> Statement:
        if m not in billers:
            billers[m] = billing.biller(site, m, language=language)
        return billers[m].statement(pid)

    got = account(book, store, month, payers, statement, billing.now(campus.site.timezone), language)
    if format == "json":
        return Response(got.model_dump_json(), media_type="application/json")
    deliveries = store.deliveries(site, payers=[p.id for p in payers], month=month)
    name = f"{'燃料成本核算' if language.startswith('zh') else 'fuel-account'}-{campus.site.name}-{month}.xlsx"
    return Response(render_xlsx(got, deliveries, language), media_type=XLSX,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})
