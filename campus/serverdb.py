"""A schema on the state server (``[state] url``) and its url's password, which nothing shown may hold.

Kept apart from :mod:`campus.db` so that :mod:`campus.pg` (which :mod:`campus.db` opens) needs nothing back
from it."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

__all__ = ["ServerDb", "redacted", "secrets_of"]

_SCHEMA = re.compile(r"[a-z][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class ServerDb:
    """One file of the data directory as a schema of a PostgreSQL database (``[state] url``): ``state`` for
    meterwatch.db's registry and tokens, later ``alerts``, ``records``, … Every host naming the same url and
    schema shares the same rows."""

    url: str = field(repr=False)  # holds the password (or not): shown only as str(self), redacted
    schema: str

    def __post_init__(self) -> None:
        if not _SCHEMA.fullmatch(self.schema):
            raise ValueError(f"a schema name is lower-case letters, digits and _, not {self.schema!r}")

    def __str__(self) -> str:
        return f"{redacted(self.url)} (schema {self.schema})"




_SECRET_PARAMS = re.compile(r"((?:^|[?&;\s])(?:password|sslpassword)\s*=\s*)([^&;\s]*)", re.I)


def secrets_of(url: str) -> list[str]:
    """The password a url carries (as written, and percent-decoded), wherever it is: what never to show."""
    found: list[str] = []
    try:
        parts = urlsplit(url)
        if parts.password:
            found.append(parts.password)
        netloc = parts.netloc
    except ValueError:
        netloc = url.split("://", 1)[-1].split("/", 1)[0]
    if "@" in netloc:
        userinfo = netloc.rsplit("@", 1)[0]
        if ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])
    found += [m.group(2) for m in _SECRET_PARAMS.finditer(url) if m.group(2)]
    decoded = []
    for secret in found:
        with contextlib.suppress(Exception):
            decoded.append(unquote(secret, errors="strict"))
    return sorted({s for s in found + decoded if s}, key=len, reverse=True)


def redacted(url: str, text: str | None = None) -> str:
    """``text`` (default: ``url`` itself) with every form of ``url``'s password replaced by ``***``: what logs,
    errors and command output may show."""
    out = url if text is None else text
    for secret in secrets_of(url):
        out = out.replace(secret, "***")
    return _SECRET_PARAMS.sub(lambda m: m.group(1) + "***", out) if text is None else out
