"""The small error tree every meterwatch package raises from.

Third-party errors (sqlite3, httpx, paho, pydantic) are translated at the boundary
with ``raise ... from exc`` so callers only ever catch these.
"""

import sqlite3


class MeterwatchError(Exception):
    """Base of every error meterwatch raises on purpose."""


class ConfigError(MeterwatchError):
    """A configuration or campus file is wrong; the message says where and how to fix it."""


class Invalid(ConfigError):
    """A change or a request names what does not fit the campus (an unknown building, zone or site; a device
    whose fields break a campus rule; a token without a name): the message says what to fix. Over HTTP: 422.
    A ConfigError, so code that reads files and the command line treat it as before."""


class PayloadError(MeterwatchError):
    """An MQTT message cannot become readings. ``reason`` names the field and value."""

    def __init__(self, reason: str, *, index: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.index = index


class StoreError(MeterwatchError):
    """The time-series store failed."""


class StoreUnavailable(StoreError):
    """The store cannot be reached right now; the write may succeed later (spool and retry)."""


class StoreRejected(StoreError):
    """The store refused the data itself; retrying the same write will not help."""


class StateUnavailable(MeterwatchError):
    """The shared state database ([state] url) cannot be reached right now: nothing was changed, and the same
    request or job may succeed once it is back (each connection reconnects on its next use). Over HTTP: 503."""


class NotFound(MeterwatchError):
    """A device, dead letter or other record does not exist."""


class AlreadyExists(MeterwatchError):
    """A record with that id exists, or a change conflicts with others (a device with sub-meters)."""


# Failures of our own storage (the state database, the disk, the store while spooling is impossible), not of
# a message: whoever meets one holds the batch unacknowledged and tries again, instead of dead-lettering it.
HOLD: tuple[type[BaseException], ...] = (StoreUnavailable, StateUnavailable, sqlite3.Error, OSError, MemoryError)
