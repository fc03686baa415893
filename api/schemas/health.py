"""The service's health (tag: health)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class HealthPublic(BaseModel):
    status: Literal["ok", "degraded"] = Field(description="degraded: broker, store or state database unreachable, "
                                              "or spool not empty")
    mqtt_connected: bool
    store_backend: str
    store_reachable: bool
    store_error: str | None
    spool_depth: int = Field(description="readings held on disk until the store takes them")
    backlog: int = Field(description="messages received and not yet committed")
    dead_letters: int = Field(description="refused messages waiting for replay")
    received: int
    stored: int
    acknowledged: int
    state_backend: Literal["sqlite", "postgresql"] = Field(
        default="sqlite", description="where the registry, tokens and credentials live ([state] url: postgresql)")
    state_reachable: bool = Field(default=True, description="false: the state database is away; requests that "
                                  "need it answer 503, readings of known devices are still stored")
    state_error: str | None = Field(default=None, description="why the state database cannot be reached")
    warnings: list[str] = Field(default_factory=list, description="things to look at before they become a problem, "
                                                                   "e.g. dead letters near their bound")
