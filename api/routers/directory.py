"""What the console offers to choose from and names people by: GET /people (the site's duty roster: id and name,
no contact details) and GET /terms (the school terms of the site's calendar, for the term summary)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import CampusDep, ContextDep
from api.schemas import PersonPublic
from reports.summaries import terms

router = APIRouter(tags=["campus"])


class TermPublic(BaseModel):
    name: str = Field(description="as /reports/energy/term/{term} takes it", examples=["2026秋季学期"])
    start: date
    end: date = Field(description="its last day")


@router.get("/people", response_model=list[PersonPublic],
            summary="The people on the site's duty roster (id and name): who a hazard is assigned to, and the names "
                    "of the tokens that recorded or filed something")
def people(ctx: ContextDep) -> list[PersonPublic]:
    roster = ctx.roster
    return [PersonPublic(id=p.id, name=p.name) for p in roster.people.values()] if roster is not None else []


@router.get("/terms", response_model=list[TermPublic], summary="The school terms in the site's calendar")
def school_terms(campus: CampusDep) -> list[TermPublic]:
    return [TermPublic(**t) for t in terms(campus)]
