"""POST /photos: photos for a record of a site, checked and kept by their SHA-256 for that site; GET /files/{sha256}:
a kept photo or laboratory PDF, byte for byte, as a download, to a token that may see a record that uses it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response

from api.deps import AccessDep, ContextDep, Electrician, RecordsDep
from api.routers.fuel import photo_seen
from api.schemas import KeptPublic
from api.uploads import media_type, read_form
from campus.errors import NotFound
from records.desk import RecordDesk
from records.photos import MEDIA, FileRejected, Upload, attachment, photo

router = APIRouter(tags=["records"])


def check_photos(records: RecordDesk, files: list[tuple[str, bytes]]) -> list[Upload]:
    """Photos sent with a record, checked (kept only once the record is)."""
    s = records.settings
    return [photo(data, name, s.photo_max_bytes, s.photo_max_pixels) for name, data in files]


def check_attachment(records: RecordDesk, files: list[tuple[str, bytes]]) -> Upload | None:
    if not files:
        return None
    if len(files) > 1:
        raise FileRejected("attach one PDF (the laboratory's report)")
    name, data = files[0]
    return attachment(data, name, records.settings.attachment_max_bytes)


@router.post("/photos", response_model=list[KeptPublic], status_code=201, dependencies=[Electrician],
             summary="Upload photos for a check round or a hazard of a site (multipart: 'photo' parts); JPEG, PNG "
                     "or WebP. They are the site's; one no record names within [records] upload_grace_h is swept",
             openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                 "type": "object", "required": ["photo"], "properties": {"photo": {
                     "type": "array", "items": {"type": "string", "format": "binary"}}}}}}}})
async def upload(request: Request, records: RecordsDep, ctx: ContextDep) -> list[KeptPublic]:
    if media_type(request) != "multipart/form-data":
        raise HTTPException(415, "send the photos as multipart/form-data, each in a part named 'photo'")
    _, files = await read_form(request, ("photo",), max_fields=5)
    if not files["photo"]:
        raise FileRejected("no photo: send each in a multipart part named 'photo'")
    checked = check_photos(records, files["photo"])
    records.keep(ctx.site, checked)
    return [KeptPublic(sha256=u.sha256, media_type=u.media_type, bytes=len(u.data), width=u.width, height=u.height,
                       url=f"/api/v1/files/{u.sha256}") for u in checked]


@router.get("/files/{sha256}", summary="A photo or attachment kept with a record, byte for byte, as a download "
            "(only to a token that may see a record that uses it)",
            responses={200: {"content": {m: {} for m in sorted(set(MEDIA.values()))}}})
def file(records: RecordsDep, access: AccessDep, request: Request,
         sha256: Annotated[str, Path(max_length=64, pattern="^[0-9a-f]{64}$")]) -> Response:
    if not any(access.sees(site, building, zone) for site, zone, building in records.file_places(sha256)) \
            and not photo_seen(request, access, sha256):  # a canteen's fuel receipt
        raise NotFound(f"no file {sha256}")  # as for a file nobody kept
    data, ext = records.shelf.read(sha256)
    name = f"{'report' if ext == 'pdf' else 'photo'}-{sha256[:12]}.{ext}"
    return Response(data, media_type=MEDIA[ext], headers={
        "Cache-Control": "private, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'attachment; filename="{name}"'})
