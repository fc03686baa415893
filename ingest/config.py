"""Configuration sections owned by ingest. The app composes them (``api.settings``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from ingest.contract import Limits


class MqttSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(default="mqtt://127.0.0.1:1883", description="mqtt://HOST:PORT")
    topic_prefix: str = "campus"
    client_id: str = Field(default="meterwatch-ingest", description="fixed, so the broker keeps our session")
    username: str | None = None
    password: SecretStr | None = None
    keepalive_s: int = Field(default=30, ge=5)

    @field_validator("url")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise ValueError(f"{value!r}: expected mqtt://HOST:PORT")
        return value

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 1883


class StoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    backend: Literal["sqlite", "influxdb"] = "sqlite"
    path: Path | None = Field(default=None, description="sqlite file; default DATA_DIR/readings.db")
    url: str = "http://127.0.0.1:8086"
    database: str = "meterwatch"
    token: SecretStr | None = Field(default=None, description="InfluxDB 2.x/3.x token (v1-compatible API)")
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: float = Field(default=10.0, gt=0)


class IngestSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_batch_messages: int = Field(default=1000, ge=1, description="messages committed per store write")
    spool_max_readings: int = Field(
        default=5_000_000, ge=1000,
        description="readings held on disk while the store is down; past it, ingest stops acknowledging",
    )
    worker: Literal["process", "thread"] = Field(
        default="process", description="decode and commit in a worker process (a second core) or a thread")
    retry_initial_s: float = Field(default=0.5, gt=0)
    retry_max_s: float = Field(default=30.0, gt=0)
    register_ceiling: float = Field(
        default=1e10, gt=0, description="a cumulative register (kWh, m³) at or above this is refused")
    capacity_factor: float = Field(
        default=10.0, gt=0, description="power or flow above this × the rated capacity is refused")
    dead_letter_max_count: int = Field(
        default=100_000, ge=100, description="dead letters kept; past it replayed ones go first, then the oldest")
    dead_letter_max_bytes: int = Field(
        default=256 * 1024 * 1024, ge=1024 * 1024, description="bytes of dead letters kept (payloads and reasons)")

    @property
    def limits(self) -> Limits:
        return Limits(self.register_ceiling, self.capacity_factor)
