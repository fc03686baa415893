"""A record sent as JSON, or as multipart/form-data with its files: ``record`` (the JSON) and file parts.

One parser for every route that takes photos or an attachment. The request as a whole is bounded by the
BodyLimit middleware: [records] upload_max_bytes for a multipart body on these routes, [api] max_body_bytes for
JSON. Inside a multipart body, each non-file field (the record's JSON) is held to [api] max_body_bytes too (413);
each file is checked by the records' rules (``records.photos``) after it is read.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

M = TypeVar("M", bound=BaseModel)
BODIES: dict[str, type[BaseModel]] = {}
MAX_FILES = 20


def _invalid(exc: ValidationError) -> HTTPException:
    return HTTPException(422, [{k: e[k] for k in ("loc", "msg", "type")} for e in exc.errors()])


def _field_names(fields: tuple[str, ...]) -> str:
    """The file fields a route takes, as a person reads them: a numbered run (photo-0 … photo-99) shortened."""
    if len(fields) <= 6:
        return ", ".join(repr(f) for f in fields)
    return f"{', '.join(repr(f) for f in fields[:3])} … {fields[-1]!r}"


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_form(request: Request, file_fields: tuple[str, ...], max_fields: int = 20,
                    ) -> tuple[Any, dict[str, list[tuple[str, bytes]]]]:
    """A multipart body: (its 'record' field, {file field: [(file name, bytes), ...]}). A file under another
    name is 422; a body that cannot be read, 400."""
    files: dict[str, list[tuple[str, bytes]]] = {f: [] for f in file_fields}
    field_bytes: int = request.app.state.settings.api.max_body_bytes
    try:
        async with request.form(max_files=MAX_FILES, max_fields=max_fields,  # closes the spooled files
                                max_part_size=field_bytes) as form:
            record: Any = form.get("record")
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    if name not in files:
                        raise HTTPException(422, f"file field {name!r}: use {_field_names(file_fields)}")
                    files[name].append((value.filename or name, await value.read()))
    except HTTPException:
        raise  # ours, from inside the loop
    except (StarletteHTTPException, MultiPartException) as exc:  # starlette's parser, as 400 or as itself
        said = exc.detail if isinstance(exc, StarletteHTTPException) else exc.message
        if said.startswith("Part exceeded maximum size"):  # a non-file field over max_part_size
            raise HTTPException(413, f"a multipart field other than a file is over the {field_bytes} byte limit "
                                     "([api] max_body_bytes): the record's JSON is small, the files go in "
                                     f"{', '.join(repr(f) for f in file_fields)}") from exc
        raise HTTPException(400, f"multipart body could not be read: {said}") from exc
    except Exception as exc:  # starlette raises several kinds for a malformed body
        raise HTTPException(400, f"multipart body could not be read: {exc}") from exc
    return record, files


async def read_record(request: Request, model: type[M], file_fields: tuple[str, ...]) -> tuple[M, dict[str, list[
        tuple[str, bytes]]]]:
    """(the record, {field: [(file name, bytes), ...]})."""
    kind = media_type(request)
    files: dict[str, list[tuple[str, bytes]]] = {f: [] for f in file_fields}
    if kind == "multipart/form-data":
        raw, files = await read_form(request, file_fields)
        if not isinstance(raw, str):
            raise HTTPException(422, "multipart: put the record's JSON in a field named 'record' and the files "
                                     f"in {', '.join(repr(f) for f in file_fields)}")
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise HTTPException(422, f"the 'record' field is not JSON: {exc}") from exc
    elif kind in ("application/json", ""):
        try:
            body = await request.json()
        except ValueError as exc:
            raise HTTPException(422, f"the body is not JSON: {exc}") from exc
    else:
        raise HTTPException(415, f"send application/json, or multipart/form-data with the files; not {kind}")
    try:
        return model.model_validate(body), files
    except ValidationError as exc:
        raise _invalid(exc) from exc


def body_of(model: type[BaseModel], files: dict[str, str]) -> dict[str, Any]:
    """openapi_extra describing the two ways to send ``model`` (``files``: field → what it holds). The model goes
    into the schema's components through :func:`add_bodies`."""
    BODIES[model.__name__] = model
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    parts: dict[str, Any] = {"record": {"type": "string", "description": f"{model.__name__} as JSON"}}
    for name, what in files.items():
        parts[name] = {"type": "array", "items": {"type": "string", "format": "binary"}, "description": what}
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": schema},
        "multipart/form-data": {"schema": {"type": "object", "required": ["record"], "properties": parts}}}}}


def add_bodies(schema: dict[str, Any]) -> dict[str, Any]:
    """Put the models :func:`body_of` named (and the models inside them) into an OpenAPI schema's components."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, model in BODIES.items():
        found = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for inner, sub in found.pop("$defs", {}).items():
            components.setdefault(inner, sub)
        components.setdefault(name, found)
    return schema
