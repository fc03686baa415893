"""Tokens (admin) and who am I (any token)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel, Field

from alerts.desk import AlertDesk
from api.deps import Admin, PageDep, PrincipalDep, TimezoneDep
from api.timefmt import from_ms
from api.tokens import Role, TokenStore
from ingest.errors import ConfigError, NotFound

router = APIRouter(tags=["access"])


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64, examples=["wang-electrician"])
    role: Role = Field(examples=["electrician"])


class TokenCreated(BaseModel):
    name: str
    role: Role
    token: str = Field(description="shown only now: store it, meterwatch keeps only its hash")


class TokenPublic(BaseModel):
    id: int
    name: str
    role: Role
    created: datetime
    last_used: datetime | None


class Me(BaseModel):
    name: str
    role: Role
    person: str | None = Field(default=None, description="the duty roster's name for this token's name, if listed")
    zones: list[str] = Field(default_factory=list, description="the zones (责任区) the roster gives this person in "
                             "any shift; empty: all, or not on the roster")


def _tokens(request: Request) -> TokenStore:
    tokens: TokenStore = request.app.state.tokens
    return tokens


@router.get("/me", response_model=Me, summary="The token's name and role")
def me(principal: PrincipalDep, request: Request) -> Me:
    desk: AlertDesk | None = getattr(request.app.state, "alerts", None)
    if desk is None:
        return Me(name=principal.name, role=principal.role)
    person = next((p for p in desk.roster_file.people if p.id == principal.name), None)
    zones = desk.roster_file.zones_of(principal.name) or []
    return Me(name=principal.name, role=principal.role, person=person.name if person else None, zones=zones)


@router.get("/tokens", response_model=list[TokenPublic], dependencies=[Admin], summary="Tokens (admin)")
def list_tokens(request: Request, tz: TimezoneDep, page: PageDep, response: Response) -> list[TokenPublic]:
    return [TokenPublic(id=t.id, name=t.name, role=t.role, created=from_ms(t.created_ms, tz),  # type: ignore[arg-type]
                        last_used=from_ms(t.last_used_ms, tz)) for t in page.of(_tokens(request).list(), response)]


@router.post("/tokens", response_model=TokenCreated, status_code=201, dependencies=[Admin],
             summary="Make a token (admin); the token is in this response only")
def create_token(body: TokenCreate, request: Request) -> TokenCreated:
    try:
        token = _tokens(request).create(body.name, body.role)
    except ConfigError as exc:
        raise HTTPException(409, str(exc)) from exc
    return TokenCreated(name=body.name, role=body.role, token=token)


@router.delete("/tokens/{name}", status_code=204, dependencies=[Admin], summary="Revoke a token (admin)")
def revoke_token(name: Annotated[str, Path(max_length=200, description="the token's exact name")],
                 request: Request) -> None:
    try:
        _tokens(request).revoke(name)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
