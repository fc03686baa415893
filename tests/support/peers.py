"""Real local peers for delivery tests: an HTTP server that records JSON webhooks and an SMTP
server (aiosmtpd) that records e-mail. Both bind to free loopback ports and stop themselves."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.servers import free_port


@dataclass
class Hook:
    path: str
    body: dict[str, Any]
    at: float


class WebhookServer:
    """Records every POST; answers 200, or 503 while ``failing`` is set."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Hook] = []
        self.failing = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                import time

                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.failing:
                    self.send_response(503)
                    self.end_headers()
                    return
                outer.received.append(Hook(self.path, json.loads(body or b"{}"), time.monotonic()))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Mail:
    to: list[str]
    subject: str
    body: str
    attachments: list[str] = field(default_factory=list)  # file names


class SmtpSink:
    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Mail] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                part = msg.get_body(preferencelist=("plain", "html"))
                text = part.get_content() if part is not None else ""
                files = [str(p.get_filename()) for p in msg.iter_attachments()]
                outer.received.append(Mail(list(envelope.rcpt_tos), str(msg["subject"]), text, files))
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
