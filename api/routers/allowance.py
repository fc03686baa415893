"""A payer's free monthly allowance (定额): GET /payers/{payer}/allowance, this month's use against it and the
notices its contact was sent (``billing.allowance``; the check and the sending: ``app.allowance``).

Scope as the statements: a token narrowed to zones or buildings sees a payer only when every meter it is
billed for (and every sub-meter taken off) lies in its scope; what it may not see does not exist (404).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from api.deps import CampusDep, check_month
from api.routers.statements import BillingDep, _visible
from app.allowance import AllowanceNotifier
from billing.allowance import AllowanceStatus, allowance_status
from campus.errors import NotFound

router = APIRouter(tags=["billing"])


@router.get("/payers/{payer}/allowance", response_model=AllowanceStatus,
            summary="A payer's free allowance (定额): the month's use so far against it, and the notices sent")
def get_allowance(
    payer: Annotated[str, Path(max_length=64, description="the payer's id")],
    billing: BillingDep, campus: CampusDep, request: Request,
    month: Annotated[str | None, Query(max_length=7, description="YYYY-MM in the site's time zone; default: "
                                       "this month")] = None,
) -> AllowanceStatus:
    if month is not None:
        check_month(month)
    book = billing.book(campus.site.id)
    if payer not in book.payers or not _visible(book, campus, payer):
        raise NotFound(f"no payer {payer!r}")
    month = month or billing.now(campus.site.timezone).strftime("%Y-%m")
    biller = billing.biller(campus.site.id, month)
    notifier: AllowanceNotifier = request.app.state.allowance
    return allowance_status(biller, biller.book.payers[payer], notifier.outbox)
