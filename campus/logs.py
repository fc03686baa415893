"""Structured logs: one JSON object per line, ``extra=`` fields included, secrets never logged."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

_STD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_SECRET_WORDS = ("password", "token", "secret")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
               "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        for key, value in record.__dict__.items():
            if key not in _STD and not key.startswith("_"):
                out[key] = "***" if any(w in key.lower() for w in _SECRET_WORDS) else value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


LOG_FILE_ENV = "METERWATCH_LOG_FILE"  # set: every process of this service (spawned children too) logs there


def setup_logging(level: str = "INFO", file: Path | None = None) -> None:
    """JSON lines on standard error, or appended to ``file`` (default: ``$METERWATCH_LOG_FILE`` if set, which
    child processes inherit, so the whole service writes one file)."""
    target = file or (Path(os.environ[LOG_FILE_ENV]) if os.environ.get(LOG_FILE_ENV) else None)
    handler: logging.Handler
    if target is not None:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        handler = logging.FileHandler(target, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
