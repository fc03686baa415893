"""The small error tree every meterwatch package raises from.

Third-party errors (sqlite3, httpx, paho, pydantic) are translated at the boundary
with ``raise ... from exc`` so callers only ever catch these.
"""


class MeterwatchError(Exception):
    """Base of every error meterwatch raises on purpose."""


class ConfigError(MeterwatchError):
    """A configuration or campus file is wrong; the message says where and how to fix it."""


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


class NotFound(MeterwatchError):
    """A device, dead letter or other record does not exist."""
