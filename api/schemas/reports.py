"""Filed reports (tag: reports). The reports themselves are ``reports``' own models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from reports.energy import ChangeSinceFiled


class FiledFilePublic(BaseModel):
    format: str
    sha256: str = Field(description="of the bytes kept, hex")
    bytes: int


class FilingPublic(BaseModel):
    site: str
    month: str
    version: int = Field(description="1 for the first filing; a correction is the next")
    filed_by: str = Field(description="the token that filed it")
    filed_at: datetime = Field(description="the server's clock when it was filed")
    files: list[FiledFilePublic]
    changes: list[ChangeSinceFiled] | None = Field(
        default=None, description="what late readings changed since, by building and kind (with one filing asked for)")
