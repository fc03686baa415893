"""The gateway process's configuration: a TOML file, each key overridable by environment
(``METERWATCH_GATEWAY__ID``, ``METERWATCH_MQTT__PASSWORD``, ...), the sections the other processes use.

```toml
data_dir = "/var/lib/meterwatch-gateway"
[mqtt]
url = "mqtts://broker.campus.lan:8883"
password = "..."              # meterwatch credentials issue gw-canteen-1; username defaults to the gateway id
cafile = "/etc/meterwatch/ca.pem"
[campus]
file = "/etc/meterwatch/campus.yaml"     # or [gateway] server + token: the device list from the API
[gateway]
id = "gw-canteen-1"
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from campus.contract import Identifier
from campus.errors import ConfigError
from ingest.config import MqttSettings

MAX_FREEZES = 62  # DL/T 645-2007 meters keep their last 62 daily freezes (上1次 … 上62次日冻结, DI 0506000n)


class GatewayCampus(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: Path | None = Field(default=None, description="the campus file (or directory) the server reads")


class GatewaySection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Identifier = Field(description="which gateway of the registry this process is (its MQTT username)")
    site: Identifier | None = Field(default=None, description="the site, when the campus file holds several and "
                                    "the gateway id alone does not say")
    server: str | None = Field(default=None, description="meterwatch's URL, e.g. https://energy.campus.lan: the "
                               "device list comes from its API instead of [campus] file")
    token: SecretStr | None = Field(default=None, description="an API token whose scope covers this gateway's "
                                    "devices (meterwatch token create)")
    campus_poll_s: float = Field(default=300, ge=1, description="how often the device list is asked for again "
                                 "(If-None-Match: an unchanged list costs a 304)")
    backfill_days: int = Field(default=31, ge=0, le=MAX_FREEZES, description="days of DL/T 645 daily freezes read "
                               "after a gap (and on first start); meters keep 62")
    backfill_per_read: int = Field(default=7, ge=1, le=MAX_FREEZES, description="days of freezes read after "
                                   "each answer of a meter until its gap is filled (the bus is not held for long)")
    buffer_max_readings: int = Field(default=1_000_000, ge=1000, description="readings kept on disk while the "
                                     "broker is away; past it the oldest go (counted and logged)")
    batch_max_readings: int = Field(default=500, ge=1, le=10_000, description="readings of one device in one "
                                    "message when the buffer drains (the contract allows 10,000 and 256 KiB)")
    time_sync: bool = Field(default=False, description="broadcast the time to DL/T 645 meters once a day (off: a "
                            "meter's clock decides its daily freezes and, on some meters, its tariffs)")
    time_sync_hour: int = Field(default=3, ge=0, le=23, description="the local hour of the daily time broadcast "
                                "(away from midnight, when meters freeze)")
    health_every_s: float = Field(default=3600, ge=1, description="each meter's health is published when its "
                                  "outcome changes, and at least this often")

    @field_validator("server")
    @classmethod
    def _server(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r}: expected meterwatch's URL, e.g. https://energy.campus.lan")
        return value.rstrip("/")


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METERWATCH_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Field(default=Path("meterwatch-gateway"), description="the buffer (buffer.db) lives here")
    log_level: str = "INFO"
    mqtt: MqttSettings = MqttSettings()
    campus: GatewayCampus = GatewayCampus()
    gateway: GatewaySection

    @model_validator(mode="after")
    def _device_list(self) -> GatewaySettings:
        g = self.gateway
        if (g.server is None) != (g.token is None):
            raise ValueError("[gateway] server and token go together: the API needs a token whose scope covers "
                             "this gateway's devices")
        if g.server is not None and g.site is None:
            raise ValueError("[gateway] server: set [gateway] site too (the API's device list is one site's)")
        if g.server is None and self.campus.file is None:
            raise ValueError("say where the devices are: [campus] file = \"/etc/meterwatch/campus.yaml\", or "
                             "[gateway] server and token")
        return self

    def broker(self) -> MqttSettings:
        """The broker as this gateway: its id is the username (unless set) and the client id."""
        return self.mqtt.model_copy(update={"username": self.mqtt.username or self.gateway.id,
                                            "client_id": self.gateway.id})


def load_gateway_settings(config: Path, **overrides: Any) -> GatewaySettings:
    """Read ``config`` (TOML), then the environment; keyword overrides win over both. Errors say the key."""
    if not config.is_file():
        raise ConfigError(f"config file {config} not found: write one with data_dir, [mqtt], [campus] file and "
                          "[gateway] id (meterwatch gateway --help shows an example)")

    class _FromFile(GatewaySettings):
        @classmethod
        def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                       env_settings: PydanticBaseSettingsSource,
                                       dotenv_settings: PydanticBaseSettingsSource,
                                       file_secret_settings: PydanticBaseSettingsSource,
                                       ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config))

    try:
        settings = _FromFile(**overrides)
        return GatewaySettings.model_validate(settings.model_dump())
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "file"
        what = "missing: add it" if err["type"] == "missing" else err["msg"]
        raise ConfigError(f"{config}: [{where}] {what}") from exc
    except ValueError as exc:  # bad TOML
        raise ConfigError(f"{config}: {exc}") from exc
