"""Tokens (admin) and who am I (any token)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from pydantic import BaseModel, Field

from alerts.desk import AlertDesk
from api.access import Scope, check_scope
from api.deps import PageDep, PrincipalDep, TimezoneDep, require
from api.timefmt import from_ms
from api.tokens import Principal, Role, TokenStore
from campus.contract import ID_PATTERN

router = APIRouter(tags=["access"])


IdList = list[Annotated[str, Field(pattern=ID_PATTERN)]]


class ScopePublic(BaseModel):
    """What a token may see: none of the three = every site."""

    sites: IdList = Field(default_factory=list, max_length=1000, description="these sites only")
    zones: IdList = Field(default_factory=list, max_length=1000, description="inside them, these zones only")
    buildings: IdList = Field(default_factory=list, max_length=1000, description="... and these buildings")


class TokenCreate(ScopePublic):
    name: str = Field(min_length=1, max_length=64, examples=["wang-electrician"])
    role: Role = Field(examples=["electrician"])


class TokenCreated(BaseModel):
    name: str
    role: Role
    token: str = Field(description="shown only now: store it, meterwatch keeps only its hash")
    scope: ScopePublic


class TokenPublic(BaseModel):
    id: int
    name: str
    role: Role
    created: datetime
    last_used: datetime | None
    scope: ScopePublic


def _scope_public(scope: Scope) -> ScopePublic:
    return ScopePublic(sites=sorted(scope.sites), zones=sorted(scope.zones), buildings=sorted(scope.buildings))


def unscoped_admin(principal: Annotated[Principal, Depends(require(Role.ADMIN))]) -> Principal:
    if not principal.scope.everything:
        raise HTTPException(403, f"token {principal.name!r} sees {principal.scope.describe()}: managing tokens "
                                 "needs an admin token without a scope")
    return principal


TokenAdmin = Depends(unscoped_admin)


class Me(BaseModel):
    name: str
    role: Role
    person: str | None = Field(default=None, description="the duty roster's name for this token's name, if listed")
    zones: list[str] = Field(default_factory=list, description="the zones (责任区) the roster gives this person in "
                             "any shift; empty: all, or not on the roster")
    scope: ScopePublic = Field(default_factory=ScopePublic, description="what the token may see")


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
    return [TokenPublic(id=t.id, name=t.name, role=t.role, created=from_ms(t.created_ms, tz),  # type: ignore[arg-type]
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
