"""Request bodies are bounded in size and in time, before they are read in full and before authentication.

A pure ASGI middleware: a ``Content-Length`` over the limit is answered 413 at once; a body sent
without one (chunked) is counted as it arrives and cut off with 413 as soon as it passes the limit.
Nothing past the limit is ever buffered. A body that has not arrived in full ``[api] body_timeout_s`` after the
app first asks for it is answered 408 and its connection closed, however steadily its bytes trickle in.

Which limit is decided by what the body is, not only where it goes: a multipart/form-data body to a route that
takes files (photos, a laboratory's PDF) has the upload bound; every other body, JSON on those same routes
included, has ``[api] max_body_bytes`` (a JSON document costs many times its size once parsed). Inside a
multipart body, the non-file fields (the record's JSON) are held to ``[api] max_body_bytes`` by
``api.uploads.read_form``.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def is_multipart(scope: Scope) -> bool:
    """Whether the request says its body is multipart/form-data (parameters and case aside)."""
    kind = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
    return kind.split(b";")[0].strip().lower() == b"multipart/form-data"


class BodyLimit:
    """``uploads``: paths that take files (photos, a laboratory's PDF) as multipart/form-data, and the larger limit
    such a body has: a path prefix, or a regular expression the whole path must match (it starts with ``^``)."""

    def __init__(self, app: ASGIApp, max_bytes: int, uploads: tuple[str, ...] = (), upload_max_bytes: int = 0,
                 timeout_s: float | None = None) -> None:
        self.app, self.default_bytes = app, max_bytes
        self.uploads = tuple(u for u in uploads if not u.startswith("^"))
        self.upload_patterns = [re.compile(u) for u in uploads if u.startswith("^")]
        self.upload_max_bytes = upload_max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        upload = scope["method"] in ("POST", "PATCH", "PUT") and is_multipart(scope) and (
            path.startswith(self.uploads) or any(p.fullmatch(path) for p in self.upload_patterns))
        limit = self.upload_max_bytes if upload else self.default_bytes
        await self._limited(scope, receive, send, limit, "[records] upload_max_bytes" if upload else
                            "[api] max_body_bytes")

    async def _limited(self, scope: Scope, receive: Receive, send: Send, max_bytes: int, setting: str) -> None:
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await self._refuse(send, 400, "Content-Length is not a number")
                return
            if declared > max_bytes:
                await self._refuse(send, 413, self._message(declared, max_bytes, setting))
                return
        seen = 0
        started = refused = complete = False
        deadline: float | None = None

        async def refuse(status: int, detail: str) -> Message:
            """Answer now; the app sees the client go away and stops reading."""
            nonlocal refused
            refused = True
            if not started:
                await self._refuse(send, status, detail)
            return {"type": "http.disconnect"}

        async def counted() -> Message:
            nonlocal seen, complete, deadline
            if refused:
                return {"type": "http.disconnect"}
            message: Message | None = None
            if complete or self.timeout_s is None:  # once the body is in, a receive waits for a disconnect: untimed
                message = await receive()
            else:
                deadline = deadline or time.monotonic() + self.timeout_s
                with anyio.move_on_after(deadline - time.monotonic()):
                    message = await receive()
                if message is None:
                    return await refuse(408, f"the request body did not arrive in full within {self.timeout_s:g} s "
                                             "([api] body_timeout_s): send it at once")
            if message["type"] == "http.request":
                complete = not message.get("more_body", False)
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    return await refuse(413, self._message(seen, max_bytes, setting))
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if refused:
                return  # we have answered already
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except Exception:
            if not refused:
                raise  # the app's own failure, not the body we cut off

    @staticmethod
    def _message(size: int, max_bytes: int, setting: str) -> str:
        return f"request body of {size}+ bytes is over the {max_bytes} byte limit ({setting}): send less at once"

    @staticmethod
    async def _refuse(send: Send, status: int, detail: str) -> None:
        body = json.dumps({"detail": detail}, ensure_ascii=False).encode()
        headers: list[Any] = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                              (b"connection", b"close")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
