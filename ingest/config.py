"""Configuration sections owned by ingest. The app composes them (``app.settings``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from campus.contract import Limits


class MqttSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(default="mqtt://127.0.0.1:1883", description="mqtt://HOST:PORT, or mqtts://HOST:PORT for TLS")
    topic_prefix: str = "campus"
    client_id: str = Field(default="meterwatch-ingest", description="fixed, so the broker keeps our session "
                           "(a broker with use_username_as_clientid uses the username instead)")
    username: str | None = Field(default=None, description="ingest's broker account (meterwatch deploy mosquitto "
                                 "creates it)")
    password: SecretStr | None = None
    cafile: Path | None = Field(default=None, description="mqtts: the CA that signed the broker's certificate "
                                "(default: the system's)")
    certfile: Path | None = Field(default=None, description="mqtts: a client certificate, if the broker asks for one")
    keyfile: Path | None = Field(default=None, description="mqtts: the client certificate's key")
    keepalive_s: int = Field(default=30, ge=5)
    shared_group: str | None = Field(
        default=None, description="subscribe through MQTT shared subscriptions ($share/NAME/...): every ingest "
        "process with the same group gets its share of the messages; each needs its own client_id (or username)")

    @field_validator("shared_group")
    @classmethod
    def _group(cls, value: str | None) -> str | None:
        if value is not None and (not value or any(c in value for c in "/+#$ ")):
            raise ValueError(f"shared_group {value!r}: a name without / + # $ or spaces, e.g. ingest")
        return value

    def filters(self, sites: list[str] | None = None) -> list[str]:
        """The topic filters to subscribe: every site's readings, statuses and meter health, or only ``sites``',
        through the shared group when one is set."""
        share = f"$share/{self.shared_group}/" if self.shared_group else ""
        return [f"{share}{self.topic_prefix}/{site}/+/{channel}"
                for site in (sites or ["+"]) for channel in ("reading", "status", "health")]

    @field_validator("url")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.username is not None or parts.password is not None:  # said without the URL: it holds a secret
            raise ValueError("the broker URL holds a user name or password: give mqtt://HOST:PORT as url and put "
                             "them in [mqtt] username and password (a password in a URL ends up in logs)")
        if parts.scheme not in ("mqtt", "tcp", "mqtts", "ssl") or not parts.hostname:
            raise ValueError(f"{value!r}: expected mqtt://HOST:PORT or mqtts://HOST:PORT")
        return value

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme in ("mqtts", "ssl")

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or (8883 if self.tls else 1883)

    def account(self, username: str | None, password: SecretStr | None, client_id: str) -> MqttSettings:
        """The same broker as another account (the alert process has its own)."""
        return self.model_copy(update={"username": username, "password": password, "client_id": client_id})


class BrokerSettings(BaseModel):
    """The production broker (Mosquitto) as ``meterwatch deploy mosquitto`` configures it."""

    model_config = ConfigDict(extra="forbid")
    host: str | None = Field(default=None, description="address the listeners bind to; default: every interface "
                             "(gateways on the campus network must reach it)")
    port: int = Field(default=1883, ge=0, le=65535, description="plain MQTT listener; 0: none")
    tls_port: int = Field(default=8883, ge=0, le=65535, description="MQTT over TLS listener; 0: none")
    cafile: Path | None = Field(default=None, description="CA certificate (meterwatch deploy certs makes one)")
    certfile: Path | None = Field(default=None, description="the broker's certificate")
    keyfile: Path | None = Field(default=None, description="the broker's key")
    require_certificate: bool = Field(default=False, description="TLS clients must show a certificate the CA signed")
    use_identity_as_username: bool = Field(
        default=False, description="the client certificate's CN is the username (no password on the TLS listener)")
    config_dir: Path | None = Field(default=None, description="where mosquitto.conf, passwd and acl are written "
                                    "(default DATA_DIR/mosquitto); must be readable by the broker's user")
    persistence_location: Path = Field(default=Path("/var/lib/mosquitto"), description="the broker's own data")
    user: str | None = Field(default="mosquitto", description="the system user the broker drops to when started "
                             "as root")
    pid_file: Path | None = Field(default=Path("/run/mosquitto/mosquitto.pid"),
                                  description="--reload sends SIGHUP to this process")
    reload_command: str | None = Field(default=None, description="instead of the pid file, e.g. "
                                       "'systemctl reload mosquitto'")
    log_file: Path | None = Field(default=None, description="default: standard error (the journal under systemd)")
    max_inflight_messages: int = Field(default=1000, ge=20, description="per client; ingest commits in batches")
    manage: bool = Field(default=False, description="rewrite the files and reload the broker after every change to "
                         "devices, gateways or credentials")
    service_accounts: dict[str, SecretStr] = Field(
        default_factory=dict, description="more read-only accounts of meterwatch's own (extra ingest workers): "
                                          "name = password (better: METERWATCH_BROKER__SERVICE_ACCOUNTS as JSON)")


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
    change_notes: bool = Field(
        default=False, description="InfluxDB: with each write, note per device the oldest reading written, in the "
        "store (measurement meterwatch_changes), so the roll-ups on another host learn of it: turn on when ingest "
        "workers run on several hosts")
    influx_version: Literal[1, 2, 3] = Field(
        default=1, description="which InfluxDB serves the v1 API: how the database is created, and (3) how far "
                               "one query may reach")
    org: str | None = Field(default=None, description="InfluxDB 2.x: the organisation the bucket is made in")
    query_span_h: float | None = Field(
        default=None, gt=0, description="the longest time one query covers; longer reads are split (default: "
                                        "none; 24 h on InfluxDB 3 Core, whose queries may touch 432 files)")
    history_start: date | None = Field(
        default=None, description="InfluxDB 3: no reading is older than this (reads that start at the "
                                  "beginning of time start here instead); default 400 days ago")

    @property
    def span_ms(self) -> int | None:
        if self.query_span_h is not None:
            return int(self.query_span_h * 3_600_000)
        return 24 * 3_600_000 if self.influx_version == 3 else None


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
