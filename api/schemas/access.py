"""Tokens and who am I (tag: access)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from api.tokens import Role
from campus.contract import ID_PATTERN

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


class Me(BaseModel):
    name: str
    role: Role
    person: str | None = Field(default=None, description="the duty roster's name for this token's name, if listed")
    zones: list[str] = Field(default_factory=list, description="the zones (责任区) the roster gives this person in "
                             "any shift; empty: all, or not on the roster")
    scope: ScopePublic = Field(default_factory=ScopePublic, description="what the token may see")
