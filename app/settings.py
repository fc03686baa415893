"""All configuration: a TOML file, each key overridable by environment (METERWATCH_MQTT__URL, ...)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from alerts.config import AlertSettings
from billing.config import BillingSettings
from campus.db import DataDir
from campus.errors import ConfigError
from ingest.config import BrokerSettings, IngestSettings, MqttSettings, StoreSettings
from records.config import RecordSettings
from reports.config import ReportSettings
from reports.return_form import ReturnSettings
from reports.water_config import WaterSettings
from upload.config import UploadSettings


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="request bodies past this are 413")
    body_timeout_s: float = Field(default=120, gt=0, le=3600, description="a request body not in by this many "
                                  "seconds after it is first read is 408 (a client trickling bytes)")
    max_connections: int = Field(default=100, ge=2, le=100_000, description="open HTTP connections and "
                                 "requests in progress; a request past this is 503 (uvicorn's limit_concurrency)")
    max_page: int = Field(default=1000, ge=10, le=100_000, description="the largest page a list endpoint returns")
    max_rows: int = Field(default=100_000, ge=100, description="readings (raw or buckets) one request may ask for")
    max_cells: int = Field(default=200_000, ge=100, description="consumption buckets × groups one request may ask for")


class CampusSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: Path | None = Field(default=None, description="campus YAML; default: the sample campus")


class StateSettings(BaseModel):
    """[state]: where the registry, tokens and broker credentials live."""

    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(default=None, repr=False, description=(
        "postgresql://USER@HOST:5432/DATABASE: the shared state on PostgreSQL, one truth for every API host and "
        "alert process naming it; the password from PGPASSWORD or ~/.pgpass (libpq's own), or the whole url "
        "from METERWATCH_STATE__URL, never in the file. Unset: SQLite in the data directory"))

    @field_validator("url")
    @classmethod
    def _postgresql(cls, url: str | None) -> str | None:
        if url is None or not url.strip():
            return None
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if scheme not in ("postgresql", "postgres"):
            raise ValueError("[state] url must be postgresql://USER@HOST:PORT/DATABASE (a url of another kind, "
                             "or key=value settings, is not taken; the value is not repeated here: it may hold a "
                             "password)")
        return url.strip()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METERWATCH_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Path("meterwatch-data")
    log_level: str = "INFO"
    language: str = Field(default="zh-CN", description="zh-CN or en for people-facing text")
    mqtt: MqttSettings = MqttSettings()
    broker: BrokerSettings = BrokerSettings()
    store: StoreSettings = StoreSettings()
    api: ApiSettings = ApiSettings()
    campus: CampusSettings = CampusSettings()
    ingest: IngestSettings = IngestSettings()
    alerts: AlertSettings = AlertSettings()
    report: ReportSettings = ReportSettings()
    records: RecordSettings = RecordSettings()
    billing: BillingSettings = BillingSettings()
    water: WaterSettings = WaterSettings()  # [water]: the water balance, night minimum flow, indicators
    upload: UploadSettings = UploadSettings()
    returns: ReturnSettings = ReturnSettings()
    state: StateSettings = StateSettings()

    def datadir(self) -> DataDir:
        """Every file of the data directory, and the shared state's server when ``[state] url`` names one."""
        return DataDir(self.data_dir, self.state.url)


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Read ``config`` (TOML) if given, then the environment; keyword overrides win over both."""
    if config is not None and not config.is_file():
        raise ConfigError(f"config file {config} not found (see deploy/meterwatch.toml for an example)")

    class _FromFile(Settings):
        @classmethod
        def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                       env_settings: PydanticBaseSettingsSource,
                                       dotenv_settings: PydanticBaseSettingsSource,
                                       file_secret_settings: PydanticBaseSettingsSource,
                                       ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
            if config is not None:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config))
            return tuple(sources)

    try:
        return Settings.model_validate(_FromFile(**overrides).model_dump())
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{config or 'environment'}: [{where}] {err['msg']}") from None  # no input: a secret
    except ValueError as exc:  # bad TOML
        raise ConfigError(f"{config}: {exc}") from exc
