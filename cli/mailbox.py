"""A local SMTP mailbox for ``meterwatch demo``: the duty roster's e-mails land as .eml files in a
folder, so a newcomer sees who was told what without a mail server."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class Mailbox:
    def __init__(self, folder: Path, port: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.port = folder, port
        counter = itertools.count(len(list(folder.glob("*.eml"))) + 1)

        class Handler:
            async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
                to = re.sub(r"[^\w.@-]", "_", ",".join(envelope.rcpt_tos))[:80]
                (folder / f"{next(counter):05d}-{to}.eml").write_bytes(envelope.content)
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=port)

    def start(self) -> Mailbox:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
