"""Recording a check round and moving a hazard along: who from the token, when from the server's clock.

The plain rules:
- a round answers every item of its template once, OK or problem (an item not answered is refused, by name: there
  is no default answer); a problem needs a note (what was found); a photo may go with each item;
- the files sent with a record are kept only once the record has been checked (a refused record keeps none), for
  the record's site; a record may name only files uploaded for its own site;
- a round is recorded for the day it is recorded on, never for another day ("recorded before checked" cannot
  happen: there is no field to back-date it);
- a problem item becomes an open hazard unless the round says not to;
- a hazard moves open → assigned → fixed (assigned again to hand it on; fixed straight from open when it was
  fixed on the spot); fixed needs a note of what was done; nothing moves back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from campus.errors import NotFound
from records.context import Context, RecordRefused
from records.desk import RecordDesk
from records.photos import Upload
from records.rounds import Per, places
from records.store import HazardRow, NotUploaded, RoundRow

MOVES = {"open": {"assigned", "fixed"}, "assigned": {"assigned", "fixed"}, "fixed": set()}


@dataclass(frozen=True, slots=True)
class Answer:
    """One checklist item as answered: ``ok`` None is not answered (refused, naming the item); its photos, by
    SHA-256 of files uploaded for the site, and ``uploads`` sent with the round."""

    item: int
    ok: bool | None
    note: str = ""
    photos: tuple[str, ...] = ()
    uploads: tuple[Upload, ...] = ()


def _files_known(desk: RecordDesk, ctx: Context, photos: list[str]) -> None:
    """Every file a record names by SHA-256 was uploaded for its site (checked again when the record is written)."""
    for sha in desk.store.unowned(ctx.site, photos):
        raise NotUploaded(f"file {sha[:16]}… was not uploaded for site {ctx.site}: POST the photo to "
                          f"/api/v1/photos?site={ctx.site} first (a file is kept for the site it was uploaded for), "
                          "or send it with the record as multipart/form-data")


def record_round(desk: RecordDesk, ctx: Context, *, template: str, zone: str | None, building: str | None,
                 answers: list[Answer], note: str, photos: list[str], by: str, hazards: bool = True,
                 snapshot: dict[str, object] | None = None, uploads: Sequence[Upload] = ()) -> tuple[RoundRow,
                                                                                                   list[HazardRow]]:
    t = desk.templates.template(template)
    if t is None:
        raise RecordRefused(f"no round template {template!r}; choose from "
                            f"{', '.join(x.id for x in desk.templates.rounds)}")
    # the places this token may record the round for; a place named outside them is answered as one that does
    # not exist (404, the same words), whether it exists elsewhere or not
    spots = [p for p in places(t, ctx.campus) if ctx.sees(ctx.site, p.zone, p.building)]
    per, named = ("building", building) if t.per is Per.BUILDING else ("zone", zone)
    choices = ", ".join(p.key for p in spots) or "none for this token (a zone's round is recorded by a token of "\
        "that zone, or of the whole site)"
    if named is None and t.per is Per.ZONE and len(spots) == 1:
        named = spots[0].zone
    if named is None:
        raise RecordRefused(f"round {template!r} is walked per {per}: {per}= one of {choices}")
    place = next((p for p in spots if (p.building if t.per is Per.BUILDING else p.zone) == named), None)
    if place is None:
        raise NotFound(f"no {per} {named!r} where round {template!r} is walked ({per}= one of {choices})")
    by_item: dict[int, Answer] = {}
    for a in answers:
        if not 0 <= a.item < len(t.items):
            raise RecordRefused(f"item {a.item}: round {template!r} has {len(t.items)} items (0-{len(t.items) - 1})")
        if a.item in by_item:
            raise RecordRefused(f"item {a.item} ({t.items[a.item].zh}) is answered twice: answer each item once")
        by_item[a.item] = a
    unanswered = [i for i in range(len(t.items)) if i not in by_item or by_item[i].ok is None]
    if unanswered:
        raise RecordRefused("not answered: " + "; ".join(f"item {i} ({t.items[i].zh} / {t.items[i].en})"
                                                        for i in unanswered)
                            + ". A round is answered item by item: OK or problem for each")
    for a in answers:
        if not a.ok and not a.note.strip():
            raise RecordRefused(f"item {a.item} ({t.items[a.item].zh}) is a problem: say what was found in its note")
    _files_known(desk, ctx, [*photos, *(p for a in answers for p in a.photos)])
    # the round is as it must be: only now are the files sent with it kept
    photos = [*photos, *desk.keep(ctx.site, list(uploads))]
    shots = {a.item: [*a.photos, *desk.keep(ctx.site, list(a.uploads))] for a in answers}
    now = desk.now_ms()
    day = dt.datetime.fromtimestamp(now / 1000, ctx.tz).date().isoformat()
    items = [{"item": i, "zh": t.items[i].zh, "en": t.items[i].en, "ok": by_item[i].ok, "note": by_item[i].note,
              "photos": shots[i]} for i in range(len(t.items))]
    row = desk.store.add_round(site=ctx.site, template=t.id, zone=place.zone, building=place.building, by=by,
                               now_ms=now, day=day, items=items, note=note, photos=photos, snapshot=snapshot)
    found: list[HazardRow] = []
    if hazards:
        for i in range(len(t.items)):
            a = by_item[i]
            if not a.ok:
                found.append(desk.store.add_hazard(
                    site=ctx.site, title=f"{t.items[a.item].zh}：{a.note}", zone=place.zone, building=place.building,
                    device=None, round_id=row.id, by=by, now_ms=now, due=None, note=a.note,
                    photos=shots[i] or photos))
    desk.settle(ctx, "round-overdue", f"round:{t.id}:{place.key}", f"round #{row.id} recorded by {by}")
    return row, found


def report_hazard(desk: RecordDesk, ctx: Context, *, title: str, building: str | None, device: str | None,
                  round_id: int | None, due: dt.date | None, note: str, photos: list[str], by: str,
                  uploads: Sequence[Upload] = ()) -> HazardRow:
    campus = ctx.campus
    dev = next((d for d in campus.devices if d.id == device), None) if device else None
    if device and dev is None:  # ctx.campus is the site as the token sees it: one outside is as one nowhere
        raise NotFound(f"no device {device!r} at site {ctx.site}")
    building = building or (dev.building if dev else None)
    if building is not None and campus.building(building) is None:
        raise NotFound(f"no building {building!r} at site {ctx.site}")
    if building is None and not ctx.sees(ctx.site, None, None):
        raise RecordRefused("name the building (or the device) of the hazard: this token sees only some zones or "
                            "buildings, and a hazard of the whole site is not its to report")
    if round_id is not None:
        found = desk.store.round(round_id)  # NotFound: no check round #…
        if not ctx.sees(found.site, found.zone, found.building):
            raise NotFound(f"no check round #{round_id}")  # the same answer as for a round nobody recorded
    zone = campus.zone_of(building) if building else None
    _files_known(desk, ctx, photos)
    photos = [*photos, *desk.keep(ctx.site, list(uploads))]
    return desk.store.add_hazard(site=ctx.site, title=title, zone=zone, building=building, device=device,
                                 round_id=round_id, by=by, now_ms=desk.now_ms(),
                                 due=due.isoformat() if due else None, note=note, photos=photos)


def move_hazard(desk: RecordDesk, hazard: HazardRow, *, status: str, assigned_to: str | None, due: dt.date | None,
                note: str, photos: list[str], by: str, uploads: Sequence[Upload] = ()) -> HazardRow:
    _can_move(hazard.id, hazard.status, status)
    if status == "assigned" and not (assigned_to or "").strip():
        raise RecordRefused("assigned needs assigned_to: who is to fix it")
    if status == "fixed" and not note.strip():
        raise RecordRefused("fixed needs a note: what was done")
    for sha in desk.store.unowned(hazard.site, photos):
        raise NotUploaded(f"file {sha[:16]}… was not uploaded for site {hazard.site}: POST the photo to "
                          f"/api/v1/photos?site={hazard.site} first, or send it with the move as multipart/form-data")
    photos = [*photos, *desk.keep(hazard.site, list(uploads))]
    moved = desk.store.move_hazard(hazard.id, status, by, desk.now_ms(), note, photos, assigned_to,
                                   due.isoformat() if due else None,
                                   moves_from=frozenset(s for s, to in MOVES.items() if status in to))
    if isinstance(moved, str):  # another move got there first: say what it is now
        _can_move(hazard.id, moved, status)
        raise AssertionError("unreachable: the store refused a move the rules allow")
    return moved


def _can_move(hazard_id: int, now: str, status: str) -> None:
    if status not in MOVES[now]:
        allowed = ", ".join(sorted(MOVES[now])) or "nothing (it is fixed)"
        raise RecordRefused(f"hazard #{hazard_id} is {now}; it can move to {allowed}")
