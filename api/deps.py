"""Request dependencies as Annotated aliases."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Annotated, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from alerts.desk import AlertDesk
from api.access import Access
from api.tokens import Principal, Role, TokenStore
from campus.errors import ConfigError
from campus.model import Campus
from ingest.service import IngestService
from records.context import Context
from records.desk import RecordDesk
from reports.usage import SiteUsage, Usage

T = TypeVar("T")


def get_service(request: Request) -> IngestService:
    service: IngestService = request.app.state.service
    return service


def get_access(request: Request, principal: Annotated[Principal, Depends(get_principal)]) -> Access:
    service: IngestService = request.app.state.service
    return Access(service.registry, principal.scope)


SITE_HELP = "site id; may be left out when there is one site (or the token sees one)"


def get_campus(access: Annotated[Access, Depends(get_access)],
               site: Annotated[str | None, Query(max_length=64, description=SITE_HELP)] = None) -> Campus:
    """The site a request is about (``site=``), as the token sees it."""
    return access.site(site)


def get_timezone(request: Request, site: Annotated[str | None, Query(max_length=64, description=SITE_HELP)] = None,
                 ) -> ZoneInfo:
    """The time zone times are shown in: the site's asked for, else the first site's (every instant carries its
    offset, so it is never wrong, only local to another site)."""
    service: IngestService = request.app.state.service
    campuses = service.registry.campuses
    if not campuses:
        raise ConfigError("no campus loaded: start with a campus file ([campus] file)")
    campus = campuses.get(site or "") or next(iter(campuses.values()))
    return ZoneInfo(campus.site.timezone)


def get_alerts(request: Request) -> AlertDesk:
    alerts: AlertDesk | None = getattr(request.app.state, "alerts", None)
    if alerts is None:
        raise HTTPException(503, "alerts are disabled: set [alerts] enabled = true")
    return alerts


def get_records(request: Request) -> RecordDesk:
    records: RecordDesk = request.app.state.records
    return records


def get_context(records: Annotated[RecordDesk, Depends(get_records)], campus: Annotated[Campus, Depends(get_campus)],
                access: Annotated[Access, Depends(get_access)]) -> Context:
    """The site a records request is about, as the token sees it (its zones and buildings only, its scope)."""
    return records.context(campus.site.id, view=campus, scope=access.scope)


def get_usage(request: Request) -> Usage:
    usage: Usage = request.app.state.usage
    return usage


def get_site_usage(usage: Annotated[Usage, Depends(get_usage)], campus: Annotated[Campus, Depends(get_campus)],
                   ) -> SiteUsage:
    return usage.site(campus.site.id, campus)


MONTH_TEXT = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


def check_month(month: str) -> None:
    """422 unless YYYY-MM between 2001-01 and 2099-12 (a report compares with the same month a year before),
    written so: four ASCII digits, a hyphen, two (2026-01, never 2026-1 or full-width digits)."""
    from reports.energy import month_bounds

    if not MONTH_TEXT.fullmatch(month):
        raise HTTPException(422, f"month {month[:20]!r}: write YYYY-MM, e.g. 2026-10")
    try:
        year, _ = month_bounds(month)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    if not 2001 <= year <= 2099:
        raise HTTPException(422, f"month {month!r}: use YYYY-MM between 2001-01 and 2099-12")


def get_language(request: Request,
                 lang: Annotated[str | None, Query(description="zh-CN (default) or en")] = None) -> str:
    if lang is None:
        return str(request.app.state.settings.language)
    if lang not in ("zh-CN", "en"):
        raise HTTPException(422, f"lang={lang!r}: use zh-CN or en")
    return lang


bearer = HTTPBearer(auto_error=False, description="a token from `meterwatch token create --role ROLE --name NAME`")
HOW = "make one with: meterwatch token create --role viewer --name YOUR-NAME"


def get_principal(request: Request,
                  creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    if creds is None:
        raise HTTPException(401, f"missing bearer token: send 'Authorization: Bearer <token>' ({HOW})",
                            headers={"WWW-Authenticate": "Bearer"})
    tokens: TokenStore = request.app.state.tokens
    principal = tokens.check(creds.credentials)
    if principal is None:
        raise HTTPException(401, f"token not recognised (revoked or mistyped); {HOW}",
                            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return principal


def require(role: Role) -> Callable[[Principal], Principal]:
    """A dependency admitting ``role`` and the roles above it (viewer < electrician < admin)."""

    def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.role.allows(role):
            raise HTTPException(403, f"token {principal.name!r} has role {principal.role.value}; this needs "
                                     f"{role.value} or above (an admin can make one: meterwatch token create "
                                     f"--role {role.value} --name NAME)")
        return principal

    return check


class Page(NamedTuple):
    limit: int
    offset: int

    def of(self, items: Sequence[T], response: Response, total: int | None = None) -> list[T]:
        """This page of ``items`` (all of them, or already this page when ``total`` is given)."""
        response.headers["X-Total-Count"] = str(len(items) if total is None else total)
        return list(items[self.offset:self.offset + self.limit] if total is None else items)


def get_page(request: Request,
             limit: Annotated[int | None, Query(ge=1, description="page size; at most [api] max_page (1000)")] = None,
             offset: Annotated[int, Query(ge=0, le=2**62, description="items to skip")] = 0) -> Page:
    cap = int(request.app.state.settings.api.max_page)
    if limit is not None and limit > cap:
        raise HTTPException(422, f"limit={limit}: a page holds at most {cap} items ([api] max_page); "
                                 f"page through with offset (the X-Total-Count header has the total)")
    return Page(cap if limit is None else limit, offset)


ServiceDep = Annotated[IngestService, Depends(get_service)]
PageDep = Annotated[Page, Depends(get_page)]
TimezoneDep = Annotated[ZoneInfo, Depends(get_timezone)]
AlertsDep = Annotated[AlertDesk, Depends(get_alerts)]
UsageDep = Annotated[Usage, Depends(get_usage)]
SiteUsageDep = Annotated[SiteUsage, Depends(get_site_usage)]
AccessDep = Annotated[Access, Depends(get_access)]
CampusDep = Annotated[Campus, Depends(get_campus)]
LanguageDep = Annotated[str, Depends(get_language)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
RecordsDep = Annotated[RecordDesk, Depends(get_records)]
ContextDep = Annotated[Context, Depends(get_context)]
Viewer = Depends(require(Role.VIEWER))
Electrician = Depends(require(Role.ELECTRICIAN))
Admin = Depends(require(Role.ADMIN))
