"""Request dependencies as Annotated aliases."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from alerts.desk import AlertDesk
from api.tokens import Principal, Role, TokenStore
from ingest.service import IngestService
from reports.usage import Usage

T = TypeVar("T")


def get_service(request: Request) -> IngestService:
    service: IngestService = request.app.state.service
    return service


def get_timezone(request: Request) -> ZoneInfo:
    service: IngestService = request.app.state.service
    return ZoneInfo(service.registry.campus.site.timezone)


def get_alerts(request: Request) -> AlertDesk:
    alerts: AlertDesk | None = getattr(request.app.state, "alerts", None)
    if alerts is None:
        raise HTTPException(503, "alerts are disabled: set [alerts] enabled = true")
    return alerts


def get_usage(request: Request) -> Usage:
    usage: Usage = request.app.state.usage
    return usage


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
LanguageDep = Annotated[str, Depends(get_language)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
Viewer = Depends(require(Role.VIEWER))
Electrician = Depends(require(Role.ELECTRICIAN))
Admin = Depends(require(Role.ADMIN))
