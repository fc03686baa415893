"""Statements (内部结算): GET /statements/{month} (one payer's, or every payer's total against the incomer),
their filing, and the payers and tariffs they come from.

Scope: a payer's statement reads its meters, so a token narrowed to zones or buildings sees a payer only when
every meter it is billed for (and every sub-meter taken off) lies in its scope; what it may not see does not
exist (404). The all-payers summary, filing and the incomer are the whole site's: site-wide tokens only (403).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response

from api.deps import CampusDep, LanguageDep, PrincipalDep, check_month, require
from api.schemas.billing import PayerPublic, StatementFilingPublic, TariffPublic
from api.tokens import Principal, Role
from billing.book import Book
from billing.desk import BillingDesk
from billing.filing import FORMATS, StatementFiling, changes_since
from billing.statements import Statement, Summary
from campus.errors import NotFound
from campus.model import Campus

router = APIRouter(tags=["billing"])
Month = Annotated[str, Path(description="YYYY-MM in the site's time zone", examples=["2026-10"], max_length=7)]
Format = Literal["json", "csv", "xlsx", "pdf"]
MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "pdf": "application/pdf"}
FILES = {"content": {m: {} for m in MEDIA.values() if m != "application/json"},
         "description": "JSON (the model below), or the file in the format asked for"}


def desk(request: Request) -> BillingDesk:
    got: BillingDesk = request.app.state.billing
    return got


BillingDep = Annotated[BillingDesk, Depends(desk)]


def _visible(book: Book, campus: Campus, payer: str) -> bool:
    """May a token that sees ``campus`` (narrowed) see ``payer``: every meter it holds and takes off?"""
    seen = {d.id for d in campus.devices}
    held = book.holdings.get(payer, [])
    return all(h.device.id in seen and all(c.id in seen for c in h.less) for h in held)


def _site_wide(principal: Principal, what: str) -> None:
    if principal.scope.partial:
        raise HTTPException(403, f"a token narrowed to zones or buildings cannot {what}: it is the whole site's")


def render(obj: Statement | Summary, fmt: str, language: str, name: str) -> Response:
    if fmt == "json":
        return Response(obj.model_dump_json(), media_type=MEDIA["json"])
    from billing.render import render_statement, render_summary

    body, media = (render_statement(obj, fmt, language) if isinstance(obj, Statement)
                   else render_summary(obj, fmt, language))
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}.{fmt}"})


def _name(statement: Statement) -> str:
    return f"结算单-{statement.site_name}-{statement.payer_name}-{statement.month}"


def _public(f: StatementFiling, tz: str, changes: list[dict[str, object]] | None = None) -> StatementFilingPublic:
    from zoneinfo import ZoneInfo

    return StatementFilingPublic(
        site=f.site, month=f.month, payer=f.payer, version=f.version, filed_by=f.filed_by,
        filed_at=datetime.fromtimestamp(f.filed_ms / 1000, ZoneInfo(tz)),
        files=[{"format": x.format, "sha256": x.sha256, "bytes": x.size} for x in f.files],  # type: ignore[misc]
        changes=changes)


@router.post("/statements/{month}/file", response_model=list[StatementFilingPublic], status_code=201,
             summary="File the month's statements (admin): each payer's, every format frozen with its SHA-256")
def file_statements(
    month: Month, billing: BillingDep, campus: CampusDep, language: LanguageDep,
    principal: Annotated[Principal, Depends(require(Role.ADMIN))],
    payer: Annotated[str | None, Query(max_length=64, description="one payer; without: every payer")] = None,
) -> list[StatementFilingPublic]:
    check_month(month)
    _site_wide(principal, "file statements")
    biller = billing.biller(campus.site.id, month, language=language)
    if payer is not None and payer not in biller.book.payers:
        raise NotFound(f"no payer {payer!r}")
    from billing.render import render_statement

    out = []
    now_ms = int(time.time() * 1000)
    for pid in [payer] if payer is not None else list(biller.book.payers):
        statement = billing.statement(biller, pid)
        bodies = {"json": statement.model_dump_json().encode()}
        bodies |= {fmt: render_statement(statement, fmt, language)[0] for fmt in FORMATS if fmt != "json"}
        out.append(_public(billing.filings.file(campus.site.id, month, pid, principal.name, now_ms, bodies),
                           campus.site.timezone))
    return out


@router.get("/statements/filed", response_model=list[StatementFilingPublic],
            summary="Filed statements of the site, newest month first")
def list_filed(billing: BillingDep, campus: CampusDep, principal: PrincipalDep,
               month: Annotated[str | None, Query(max_length=7)] = None,
               payer: Annotated[str | None, Query(max_length=64)] = None) -> list[StatementFilingPublic]:
    if month is not None:
        check_month(month)
    _site_wide(principal, "list filed statements")
    return [_public(f, campus.site.timezone) for f in billing.filings.filings(campus.site.id, month, payer)]


@router.get("/statements/filed/{month}", response_model=StatementFilingPublic, responses={200: FILES},
            summary="One filed statement: exactly the bytes filed (format=), or what it holds and what changed "
                    "since (a tariff correction, late readings)")
def get_filed(month: Month, billing: BillingDep, campus: CampusDep, principal: PrincipalDep, language: LanguageDep,
              payer: Annotated[str, Query(max_length=64)],
              format: Annotated[Format | None, Query()] = None,
              version: Annotated[int | None, Query(ge=1, le=10_000)] = None) -> Response:
    check_month(month)
    _site_wide(principal, "read filed statements")
    site = campus.site.id
    filing = billing.filings.filing(site, month, payer, version)
    if format is not None:
        filed = Statement.model_validate_json(billing.filings.body(site, month, payer, "json", filing.version))
        return Response(billing.filings.body(site, month, payer, format, filing.version), media_type=MEDIA[format],
                        headers={"Content-Disposition": "attachment; filename*=UTF-8''"
                                 f"{quote(f'filed-v{filing.version}-' + _name(filed))}.{format}"})
    filed = Statement.model_validate_json(billing.filings.body(site, month, payer, "json", filing.version))
    changes: list[dict[str, object]] = []
    if payer in billing.book(site).payers:
        now = billing.statement(billing.biller(site, month, language=language), payer)
        changes = [{"line": c.key, "filed_use": c.filed_use, "now_use": c.now_use, "filed_amount": c.filed_amount,
                    "now_amount": c.now_amount} for c in changes_since(filed, now)]
        if filed.total != now.total:
            changes.append({"line": "total", "filed_amount": filed.total, "now_amount": now.total})
    body = _public(filing, campus.site.timezone, changes)
    return Response(body.model_dump_json(), media_type="application/json")


@router.get("/statements/{month}", response_model=Statement | Summary, responses={200: FILES},
            summary="The month's statement of a payer (内部结算单), or every payer's total against the incomer")
def get_statement(
    month: Month, billing: BillingDep, campus: CampusDep, principal: PrincipalDep, language: LanguageDep,
    payer: Annotated[str | None, Query(max_length=64, description="the payer's id; without: every payer's "
                                       "total and their sum against the incomer's cost")] = None,
    format: Annotated[Format, Query(description="json, csv, xlsx or pdf")] = "json",
) -> Response:
    check_month(month)
    biller = billing.biller(campus.site.id, month, language=language)
    if payer is not None:
        if payer not in biller.book.payers or not _visible(biller.book, campus, payer):
            raise NotFound(f"no payer {payer!r}")
        statement = billing.statement(biller, payer)
        return render(statement, format, language, _name(statement))
    _site_wide(principal, "read every payer's total")
    summary, _ = billing.summary(biller)
    return render(summary, format, language, f"结算汇总-{summary.site_name}-{month}")


@router.get("/payers", response_model=list[PayerPublic], summary="Who pays: each payer, its meters and tariffs")
def list_payers(billing: BillingDep, campus: CampusDep) -> list[PayerPublic]:
    book = billing.book(campus.site.id)
    out = []
    for p in book.billing.payers:
        if not _visible(book, campus, p.id):
            continue
        out.append(PayerPublic(
            id=p.id, name=p.name, type=p.type.value,
            meters=[{"id": h.device.id, "name": h.device.name or h.device.id, "kind": h.device.kind.value,
                     "share": h.share, "via": h.via, "less": [c.id for c in h.less]}  # type: ignore[misc]
                    for h in book.holdings.get(p.id, [])],
            tariffs={k.value: {"id": t, "name": book.tariffs[t].name} for k, t in p.tariffs.items()},  # type: ignore[misc]
            allowance={k.value: v for k, v in p.allowance.items()}))
    return out


@router.get("/tariffs", response_model=list[TariffPublic], summary="The site's tariffs, every version")
def list_tariffs(billing: BillingDep, campus: CampusDep) -> list[TariffPublic]:
    book = billing.book(campus.site.id)
    return [TariffPublic.model_validate(t.model_dump(by_alias=True)) for t in book.tariffs.values()]
