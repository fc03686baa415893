from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response

from api.deps import Admin, PageDep, ServiceDep, TimezoneDep
from api.schemas import DeadLetterPublic, RefusedItem, ReplayResult
from api.timefmt import from_ms
from ingest.deadletters import DeadLetter
from ingest.errors import NotFound, PayloadError, StoreUnavailable

router = APIRouter(prefix="/dead-letters", tags=["dead letters"])


def _public(d: DeadLetter, tz: TimezoneDep) -> DeadLetterPublic:
    return DeadLetterPublic(id=d.id, topic=d.topic, payload=d.payload.decode("utf-8", "replace"), reason=d.reason,
                            items=[RefusedItem(index=i, reason=r) for i, r in d.items],
                            first_received=from_ms(d.first_ms, tz),  # type: ignore[arg-type]
                            last_received=from_ms(d.last_ms, tz), times=d.times,  # type: ignore[arg-type]
                            replayed_at=from_ms(d.replayed_ms, tz))


@router.get("", response_model=list[DeadLetterPublic], summary="Refused messages, oldest first")
def list_dead_letters(service: ServiceDep, tz: TimezoneDep, page: PageDep, response: Response,
                      include_replayed: Annotated[bool, Query()] = False) -> list[DeadLetterPublic]:
    letters = service.dead_letters.list(pending_only=not include_replayed, limit=page.limit, offset=page.offset)
    total = service.dead_letters.count(pending_only=not include_replayed)
    return [_public(d, tz) for d in page.of(letters, response, total)]


@router.post("/{letter_id}/replay", response_model=ReplayResult, dependencies=[Admin],
             summary="Decode a dead letter again (after fixing the registry) and store it")
def replay(letter_id: Annotated[int, Path(ge=1, le=2**63 - 1)], service: ServiceDep) -> ReplayResult:
    try:
        stored = service.pipeline.replay(letter_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except PayloadError as exc:
        raise HTTPException(409, f"still refused: {exc.reason}") from exc
    except StoreUnavailable as exc:
        raise HTTPException(503, f"the store cannot be reached, nothing was replayed; try again: {exc}") from exc
    return ReplayResult(id=letter_id, stored_readings=stored)
