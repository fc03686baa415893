from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response

from api.access import Access
from api.deps import AccessDep, Admin, PageDep, ServiceDep, TimezoneDep
from api.schemas import DeadLetterPublic, RefusedItem, ReplayResult
from api.timefmt import from_ms
from campus.errors import NotFound, PayloadError
from ingest.deadletters import DeadLetter

router = APIRouter(prefix="/dead-letters", tags=["dead letters"])


def _public(d: DeadLetter, tz: TimezoneDep) -> DeadLetterPublic:
    return DeadLetterPublic(id=d.id, topic=d.topic, payload=d.payload.decode("utf-8", "replace"), reason=d.reason,
                            items=[RefusedItem(index=i, reason=r) for i, r in d.items],
                            first_received=from_ms(d.first_ms, tz),
                            last_received=from_ms(d.last_ms, tz), times=d.times,
                            replayed_at=from_ms(d.replayed_ms, tz))


@router.get("", response_model=list[DeadLetterPublic], summary="Refused messages, oldest first")
def list_dead_letters(service: ServiceDep, tz: TimezoneDep, page: PageDep, response: Response, access: AccessDep,
                      request: Request, include_replayed: Annotated[bool, Query()] = False,
                      site: Annotated[str | None, Query(max_length=64, description="one site's")] = None,
                      ) -> list[DeadLetterPublic]:
    topics = access.topics(request.app.state.settings.mqtt.topic_prefix, site)
    letters = service.dead_letters.list(pending_only=not include_replayed, limit=page.limit, offset=page.offset,
                                        topics=topics)
    total = service.dead_letters.count(pending_only=not include_replayed, topics=topics)
    return [_public(d, tz) for d in page.of(letters, response, total)]


def _visible(access: Access, prefix: str, letter_id: int, service: ServiceDep) -> None:
    topics = access.topics(prefix, None)
    letter = service.dead_letters.get(letter_id)
    if topics is not None and not any(letter.topic.startswith(t) for t in topics):
        raise NotFound(f"no dead letter {letter_id}")


@router.post("/{letter_id}/replay", response_model=ReplayResult, dependencies=[Admin],
             summary="Decode a dead letter again (after fixing the registry) and store it")
def replay(letter_id: Annotated[int, Path(ge=1, le=2**63 - 1)], service: ServiceDep, access: AccessDep,
           request: Request) -> ReplayResult:
    try:
        _visible(access, request.app.state.settings.mqtt.topic_prefix, letter_id, service)
        stored = service.pipeline.replay(letter_id)
    except PayloadError as exc:
        raise HTTPException(409, f"still refused: {exc.reason}") from exc
    return ReplayResult(id=letter_id, stored_readings=stored)
