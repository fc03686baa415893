"""The suppliers' bills: POST /bills records one (admin), GET /bills lists them with their reconciliation,
GET /bills/{id} and /bills/{id}/reconciliation show one, DELETE /bills/{id} withdraws one (admin, kept).

A bill is never edited: a correction is a new bill that ``replaces`` the old (kept, marked replaced). Each
reconciliation of a current bill raises, keeps current or resolves its ``bill-gap`` data alert through the alert
desk (``billing.reconcile``, rule 3), as the records raise their overdue alerts.

Scope: a bill is the whole site's (its incomer), so only a token not narrowed to zones or buildings may enter or
read bills (403); a site it may not see does not exist (404).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response

from alerts.book import NewAlert
from alerts.desk import AlertDesk
from alerts.rules import RECORD_RULES
from api.deps import CampusDep, LanguageDep, PrincipalDep, RecordsDep, check_month, require
from api.schemas.bills import BillCreate, BillPublic, PeriodPublic
from api.tokens import Principal, Role
from billing.bills import BillRow, BillStore
from billing.desk import BillingDesk
from billing.reconcile import RULE, Reconciliation, for_period, gap_alert, reconcile, settled_because, subject
from billing.statements import UNITS, Biller
from billing.tariffs import TariffKind
from campus.errors import Invalid, MeterwatchError
from campus.model import Campus
from records.store import NotUploaded

router = APIRouter(tags=["billing"])
BillId = Annotated[int, Path(ge=1, le=2**62)]


def desk(request: Request) -> BillingDesk:
    got: BillingDesk = request.app.state.billing
    return got


BillingDep = Annotated[BillingDesk, Depends(desk)]


def _site_wide(principal: Principal, what: str) -> None:
    if principal.scope.partial:
        raise HTTPException(403, f"a token narrowed to zones or buildings cannot {what}: a bill is the whole "
                                 "site's (its incomer)")


class Reconciler:
    """Reconciles a request's bills, one biller per period (the meters' days are read once), and keeps each
    current bill's alert in step."""

    def __init__(self, billing: BillingDesk, alerts: AlertDesk | None, campus: Campus, language: str) -> None:
        self.billing, self.alerts, self.campus, self.language = billing, alerts, campus, language
        self._billers: dict[tuple[dt.date, dt.date], Biller | str] = {}
        self.now_ms = int(billing.clock() * 1000)

    def _biller(self, bill: BillRow) -> Biller | str:
        key = (bill.period_from, bill.stop)
        got = self._billers.get(key)
        if got is None:
            try:
                got = for_period(self.billing.biller(bill.site, f"{bill.period_to:%Y-%m}", language=self.language),
                                 bill.period_from, bill.stop)
            except MeterwatchError as exc:  # no billing file, or a broken one: said, not a failure
                got = str(exc)
            self._billers[key] = got
        return got

    def reconcile(self, bill: BillRow) -> Reconciliation:
        threshold = self.billing.settings.bill_gap_ratio
        biller = self._biller(bill)
        if isinstance(biller, str):
            return reconcile(bill, None, threshold, self.language, notes=[biller])
        try:
            return reconcile(bill, biller, threshold, self.language)
        except MeterwatchError as exc:  # a tariff without prices for the bill's days
            return reconcile(bill, None, threshold, self.language, notes=[str(exc)])

    def keep_alert(self, bill: BillRow, rec: Reconciliation | None) -> int | None:
        """Raise, keep current or resolve the alert of ``bill``'s chain (``rec`` None: the bill was withdrawn)."""
        site = self.alerts.sites().get(bill.site) if self.alerts is not None else None
        if site is None:
            return None
        book = site.book
        if rec is not None and rec.beyond:
            said = gap_alert(bill, rec, self.campus, self.alerts.language if self.alerts else self.language)
            rule = RECORD_RULES[RULE]
            return book.record(NewAlert(
                rule=RULE, category=rule.category.value, severity=rule.severity.value, subject=said.subject,
                detail=said.detail, ts=self.now_ms, zone=said.zone, building=said.building, device=said.device,
                department=said.department, value=said.value, limit=said.limit, unit=said.unit, texts=said.texts),
                self.now_ms, repeat=False)
        book.settle(RULE, subject(bill), settled_because(bill, rec), self.now_ms)
        return None

    def public(self, bill: BillRow, *, reconciled: bool = True) -> BillPublic:
        rec = self.reconcile(bill) if reconciled else None
        alert = self.keep_alert(bill, rec) if rec is not None and bill.current else None
        tz = _tz(self.campus)
        return BillPublic(
            id=bill.id, site=bill.site, kind=TariffKind(bill.kind), supplier=bill.supplier,
            period=PeriodPublic.model_validate({"from": bill.period_from, "to": bill.period_to}),
            quantities=bill.quantities, quantity=bill.quantity, unit=UNITS[TariffKind(bill.kind)], amount=bill.amount,
            number=bill.number, photo=bill.photo, photo_url=f"/api/v1/files/{bill.photo}" if bill.photo else None,
            note=bill.note, recorded_by=bill.recorded_by,
            recorded_at=dt.datetime.fromtimestamp(bill.recorded_ms / 1000, tz),
            status=bill.status, replaces=bill.replaces, replaced_by=bill.replaced_by,  # type: ignore[arg-type]
            withdrawn_by=bill.withdrawn_by, withdrawn_reason=bill.withdrawn_reason,
            withdrawn_at=dt.datetime.fromtimestamp(bill.withdrawn_ms / 1000, tz) if bill.withdrawn_ms else None,
            reconciliation=rec, alert=alert)


def recheck(billing: BillingDesk, alerts: AlertDesk, campuses: dict[str, Campus]) -> int:
    """Reconcile the current bill behind every open ``bill-gap`` alert, so that late readings (or a changed
    billing file) that close the gap resolve it without anyone looking at the bill; a withdrawn chain's alert is
    resolved. For a loop of the server's (as the records look for overdue work). Returns how many stay open."""
    still = 0
    for site, campus in campuses.items():
        open_ = [a for status in ("active", "acknowledged")
                 for a in alerts.store.query(site=site, status=status, category="data", limit=100_000, drills=False)
                 if a.rule == RULE]
        if not open_:
            continue
        r = Reconciler(billing, alerts, campus, alerts.language)
        for a in open_:
            try:
                chain = int(a.subject.rsplit(":", 1)[1])
            except (IndexError, ValueError):
                continue
            bill = billing.bills.current_of(site, chain)
            if bill is None:  # its last bill was withdrawn
                alerts.sites()[site].book.settle(RULE, a.subject, "the bill was withdrawn", r.now_ms)
                continue
            still += r.keep_alert(bill, r.reconcile(bill)) is not None
    return still


def _alerts(request: Request) -> AlertDesk | None:
    got: AlertDesk | None = getattr(request.app.state, "alerts", None)
    return got


def _tz(campus: Campus) -> dt.tzinfo:
    return ZoneInfo(campus.site.timezone)


def _store(billing: BillingDesk) -> BillStore:
    return billing.bills


@router.post("/bills", response_model=BillPublic, status_code=201, response_model_by_alias=True,
             summary="Record a supplier's bill (admin, a site-wide token): its period, quantities per band and "
                     "amount; a correction names the bill it replaces. Answers with its reconciliation")
def post_bill(body: BillCreate, request: Request, billing: BillingDep, campus: CampusDep, records: RecordsDep,
              language: LanguageDep, principal: Annotated[Principal, Depends(require(Role.ADMIN))]) -> BillPublic:
    _site_wide(principal, "enter a bill")
    site = campus.site.id
    today = billing.now(campus.site.timezone).date()
    if body.period.to >= today:
        raise Invalid(f"the period ends {body.period.to}: a bill is for days that have passed (today is {today} "
                      f"at {campus.site.name})")
    store = _store(billing)
    with records.store.tx():  # the photo cannot be swept between its check and its noting
        if body.photo is not None and records.store.unowned(site, [body.photo]):
            raise NotUploaded(f"photo {body.photo[:16]}… was not uploaded for site {site}: POST it to "
                              f"/api/v1/photos?site={site} first")
        bill = store.add(site=site, kind=body.kind.value, supplier=body.supplier, period_from=body.period.from_,
                         period_to=body.period.to, quantities=dict(body.quantities), amount=body.amount,
                         number=body.number, photo=body.photo, note=body.note, by=principal.name,
                         now_ms=int(billing.clock() * 1000), replaces=body.replaces)
        if body.photo is not None:
            records.store.use(site, "bill", bill.id, [body.photo])
    return Reconciler(billing, _alerts(request), campus, language).public(bill)


@router.get("/bills", response_model=list[BillPublic], response_model_by_alias=True,
            summary="The site's bills (a site-wide token), newest period first, each with its reconciliation")
def list_bills(request: Request, response: Response, billing: BillingDep, campus: CampusDep, language: LanguageDep,
               principal: PrincipalDep,
               kind: Annotated[TariffKind | None, Query()] = None,
               month: Annotated[str | None, Query(max_length=7, description="YYYY-MM: bills whose period meets "
                                                  "the month")] = None,
               every: Annotated[bool, Query(alias="all", description="also replaced and withdrawn bills")] = False,
               limit: Annotated[int, Query(ge=1, le=100, description="bills per page (each is reconciled)")] = 24,
               offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
               reconciled: Annotated[bool, Query(alias="reconcile", description="false: the bills only, without "
                                                 "reading the meters (fast); their alerts left as they are")] = True,
               ) -> list[BillPublic]:
    _site_wide(principal, "read bills")
    first = stop = None
    if month is not None:
        check_month(month)
        y, m = int(month[:4]), int(month[5:7])
        first, stop = dt.date(y, m, 1), dt.date(y + m // 12, m % 12 + 1, 1)
    rows, total = _store(billing).listing(campus.site.id, kind=kind.value if kind else None, first=first,
                                          stop=stop, every=every, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(total)
    r = Reconciler(billing, _alerts(request), campus, language)
    return [r.public(b, reconciled=reconciled) for b in rows]


@router.get("/bills/{bill_id}", response_model=BillPublic, response_model_by_alias=True,
            summary="One bill (a site-wide token) with its reconciliation")
def get_bill(bill_id: BillId, request: Request, billing: BillingDep, campus: CampusDep, language: LanguageDep,
             principal: PrincipalDep) -> BillPublic:
    _site_wide(principal, "read bills")
    return Reconciler(billing, _alerts(request), campus, language).public(_store(billing).get(bill_id, campus.site.id))


@router.get("/bills/{bill_id}/reconciliation", response_model=Reconciliation,
            summary="A bill against the incomer meter and the payers over its exact days: the gap in units, in 元 "
                    "and as a share of the bill (a site-wide token)")
def get_reconciliation(bill_id: BillId, request: Request, billing: BillingDep, campus: CampusDep,
                       language: LanguageDep, principal: PrincipalDep) -> Reconciliation:
    _site_wide(principal, "read bills")
    bill = _store(billing).get(bill_id, campus.site.id)
    r = Reconciler(billing, _alerts(request), campus, language)
    rec = r.reconcile(bill)
    if bill.current:
        r.keep_alert(bill, rec)
    return rec


@router.delete("/bills/{bill_id}", response_model=BillPublic, response_model_by_alias=True,
               summary="Withdraw a bill entered by mistake (admin, a site-wide token): it is kept, marked who, when "
                       "and why; its gap alert is resolved. A wrong bill is corrected by one that replaces it")
def withdraw_bill(bill_id: BillId, request: Request, billing: BillingDep, campus: CampusDep, language: LanguageDep,
                  principal: Annotated[Principal, Depends(require(Role.ADMIN))],
                  reason: Annotated[str, Query(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]+$",
                                               description="why it is withdrawn")]) -> BillPublic:
    _site_wide(principal, "withdraw a bill")
    if not reason.strip():
        raise Invalid("say why the bill is withdrawn (reason=)")
    bill = _store(billing).withdraw(bill_id, campus.site.id, by=principal.name, reason=reason.strip(),
                                    now_ms=int(billing.clock() * 1000))
    r = Reconciler(billing, _alerts(request), campus, language)
    r.keep_alert(bill, None)
    return r.public(bill, reconciled=False)
