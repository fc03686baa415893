"""POST /photos: a photo for a record, checked and kept by its SHA-256; GET /files/{sha256}: a kept photo or a
laboratory's PDF, byte for byte."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response

from api.deps import Electrician, RecordsDep
from api.schemas import KeptPublic
from api.uploads import media_type, read_form
from records.desk import RecordDesk
from records.photos import MEDIA, FileRejected, check_image, check_pdf

router = APIRouter(tags=["records"])


def keep_photos(records: RecordDesk, files: list[tuple[str, bytes]]) -> list[KeptPublic]:
    s = records.settings
    out = []
    for name, data in files:
        media, ext, w, h = check_image(data, name, s.photo_max_bytes, s.photo_max_pixels)
        sha = records.shelf.keep(data, ext)
        out.append(KeptPublic(sha256=sha, media_type=media, bytes=len(data), width=w, height=h,
                              url=f"/api/v1/files/{sha}"))
    return out


def keep_attachment(records: RecordDesk, files: list[tuple[str, bytes]]) -> str | None:
    if not files:
        return None
    if len(files) > 1:
        raise FileRejected("attach one PDF (the laboratory's report)")
    name, data = files[0]
    check_pdf(data, name, records.settings.attachment_max_bytes)
    return records.shelf.keep(data, "pdf")


@router.post("/photos", response_model=list[KeptPublic], status_code=201, dependencies=[Electrician],
             summary="Upload photos for a check round or a hazard (multipart: 'photo' parts); JPEG, PNG or WebP",
             openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                 "type": "object", "required": ["photo"], "properties": {"photo": {
                     "type": "array", "items": {"type": "string", "format": "binary"}}}}}}}})
async def upload(request: Request, records: RecordsDep) -> list[KeptPublic]:
    if media_type(request) != "multipart/form-data":
        raise HTTPException(415, "send the photos as multipart/form-data, each in a part named 'photo'")
    _, files = await read_form(request, ("photo",), max_fields=5)
    if not files["photo"]:
        raise FileRejected("no photo: send each in a multipart part named 'photo'")
    return keep_photos(records, files["photo"])


@router.get("/files/{sha256}", summary="A photo or attachment kept with a record, byte for byte",
            responses={200: {"content": {m: {} for m in sorted(set(MEDIA.values()))}}})
def file(records: RecordsDep, sha256: Annotated[str, Path(max_length=64, pattern="^[0-9a-f]{64}$")]) -> Response:
    data, ext = records.shelf.read(sha256)
    return Response(data, media_type=MEDIA[ext], headers={"Cache-Control": "private, max-age=31536000, immutable",
                                                          "X-Content-Type-Options": "nosniff"})
