"""Tokens (admin) and who am I (any token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response

from alerts.desk import AlertDesk
from api.access import Scope, check_scope
from api.deps import PageDep, PrincipalDep, TimezoneDep, require
from api.schemas import Me, ScopePublic, TokenCreate, TokenCreated, TokenPublic
from api.timefmt import from_ms
from api.tokens import Principal, Role, TokenStore

router = APIRouter(tags=["access"])


def _scope_public(scope: Scope) -> ScopePublic:
    return ScopePublic(sites=sorted(scope.sites), zones=sorted(scope.zones), buildings=sorted(scope.buildings))


def unscoped_admin(principal: Annotated[Principal, Depends(require(Role.ADMIN))]) -> Principal:
    if not principal.scope.everything:
        raise HTTPException(403, f"token {principal.name!r} sees {principal.scope.describe()}: managing tokens "
                                 "needs an admin token without a scope")
    return principal


TokenAdmin = Depends(unscoped_admin)


def _tokens(request: Request) -> TokenStore:
    tokens: TokenStore = request.app.state.tokens
    return tokens


@router.get("/me", response_model=Me, summary="The token's name and role")
def me(principal: PrincipalDep, request: Request) -> Me:
    desk: AlertDesk | None = getattr(request.app.state, "alerts", None)
    if desk is None:
        return Me(name=principal.name, role=principal.role, scope=_scope_public(principal.scope))
    person, zones = desk.person(principal.name)
    return Me(name=principal.name, role=principal.role, person=person.name if person else None, zones=zones,
              scope=_scope_public(principal.scope))


@router.get("/tokens", response_model=list[TokenPublic], dependencies=[TokenAdmin], summary="Tokens (admin)")
def list_tokens(request: Request, tz: TimezoneDep, page: PageDep, response: Response) -> list[TokenPublic]:
    return [TokenPublic(id=t.id, name=t.name, role=t.role, created=from_ms(t.created_ms, tz),
                        last_used=from_ms(t.last_used_ms, tz), scope=_scope_public(t.scope))
            for t in page.of(_tokens(request).list(), response)]


@router.post("/tokens", response_model=TokenCreated, status_code=201, dependencies=[TokenAdmin],
             summary="Make a token (admin); the token is in this response only")
def create_token(body: TokenCreate, request: Request) -> TokenCreated:
    scope = Scope.of(body.sites, body.zones, body.buildings)
    check_scope(scope, request.app.state.service.registry)
    token = _tokens(request).create(body.name, body.role, scope)
    return TokenCreated(name=body.name, role=body.role, token=token, scope=_scope_public(scope))


@router.delete("/tokens/{name}", status_code=204, dependencies=[TokenAdmin], summary="Revoke a token (admin)")
def revoke_token(name: Annotated[str, Path(max_length=200, description="the token's exact name")],
                 request: Request) -> None:
    _tokens(request).revoke(name)
