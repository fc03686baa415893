"""``[upload]``: where the site's totals go, how they are framed and encrypted, how often and how persistently.

Which of these a centre fixes is in its own interface document; the 导则 (住房和城乡建设部 2008, 能耗数据远传)
publishes the messages and MD5/AES-128, not the frame's byte order, the AES mode, its padding or IV: those are
settings here (the README says so, with what was found)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from campus.errors import ConfigError

PERIODS = (15, 20, 30, 60)  # minutes: each divides the hour, so periods start on the local quarter, third, half hour


class SiteUpload(BaseModel):
    """One site to upload: the administrative division and ids its buildings are known by at the centre."""

    model_config = ConfigDict(extra="forbid")
    division: str | None = Field(default=None, description="6-digit administrative division (GB/T 2260) for "
                                 "buildings without a code: the centre's id is division + the building's entry in "
                                 "`buildings`")
    buildings: dict[str, str] = Field(default_factory=dict, description="building id → its 4 characters after the "
                                      "division (category letter + 3 digits, e.g. D001), for buildings whose campus "
                                      "file gives no `code:`")
    gateway_id: str = Field(default="01", min_length=1, max_length=32, description="this gateway's id at the centre "
                            "(<gateway_id>)")

    @field_validator("division")
    @classmethod
    def _division(cls, value: str | None) -> str | None:
        if value is not None and not (len(value) == 6 and value.isascii() and value.isdigit()):
            raise ValueError(f"division {value!r}: 6 digits, the administrative division (GB/T 2260), e.g. 330106")
        return value


class UploadSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(default=False, description="serve starts the uploader as a child process")
    protocol: Literal["xml", "json"] = Field(default="xml", description="xml: the 导则's TCP protocol; json: HTTPS")
    host: str = Field(default="127.0.0.1", description="the data centre (xml)")
    port: int = Field(default=0, ge=0, le=65535, description="the data centre's TCP port (xml)")
    url: str | None = Field(default=None, description="the centre's JSON endpoint, https://… (json)")
    cafile: Path | None = Field(default=None, description="CA of the centre's certificate (json over https)")
    centre_id: str | None = Field(default=None, max_length=32, description="the data centre's id (sent in json)")
    key: SecretStr = Field(default=SecretStr(""), description="the shared key: MD5 authentication, and AES unless "
                           "aes_key is given (METERWATCH_UPLOAD__KEY; never logged)")
    aes: Literal["off", "data", "all"] = Field(default="off", description="AES-128: off; data: data packets and "
                                               "their acks; all: every packet")
    aes_key: SecretStr | None = Field(default=None, description="16-byte AES key, if not the key's UTF-8 bytes")
    aes_mode: Literal["cbc", "ecb"] = "cbc"
    aes_padding: Literal["pkcs7", "zeros"] = "pkcs7"
    aes_iv: str = Field(default="", description="CBC IV, 16 characters (UTF-8) or 32 hex digits; empty: 16 zero "
                        "bytes")
    byte_order: Literal["little", "big"] = Field(default="little", description="the frame's length and number")
    crc: bool = Field(default=True, description="the frame carries a CRC-16/MODBUS of head to payload")
    period_min: int = Field(default=15, description="minutes per packet: 15, 20, 30 or 60")
    settle_s: int = Field(default=300, ge=0, le=86_400, description="a period is sent this long after it ends "
                          "(late readings)")
    backfill_h: float = Field(default=0, ge=0, le=24 * 31, description="on the very first start, the periods of this "
                              "many hours before the last ended one are sent too (0: that one only)")
    heartbeat_s: float = Field(default=60, ge=5, le=3600, description="heart_beat notify while connected")
    timeout_s: float = Field(default=10, gt=0, le=300, description="connect, and each answer (sequence, result, "
                             "ack, time) waited for")
    retry_initial_s: float = Field(default=5, gt=0, le=3600)
    retry_max_s: float = Field(default=600, gt=0, le=86_400)
    max_frame_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024, description="a frame past "
                                 "this is refused (both ways)")
    max_catch_up: int = Field(default=4 * 24 * 7, ge=1, le=100_000, description="periods made into packets per "
                              "pass; more are made on the next")
    keep_days: int = Field(default=31, ge=1, le=3660, description="acknowledged packets kept this long")
    sites: dict[str, SiteUpload] = Field(default_factory=dict, description="the sites uploaded, and their ids")

    @field_validator("period_min")
    @classmethod
    def _period(cls, value: int) -> int:
        if value not in PERIODS:
            raise ValueError(f"period_min {value}: one of 15, 20, 30, 60 (minutes; it must divide the hour)")
        return value

    @model_validator(mode="after")
    def _retry(self) -> UploadSettings:
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError("retry_max_s is below retry_initial_s")
        return self

    def check(self) -> None:
        """What must hold before anything is sent; a ConfigError saying what to set."""
        if not self.sites:
            raise ConfigError("[upload] names no site: add [upload.sites.SITE_ID] (only the sites named are sent)")
        if not self.key.get_secret_value():
            raise ConfigError("[upload] key is empty: set the key the data centre issued (METERWATCH_UPLOAD__KEY)")
        if self.protocol == "xml" and (not self.host or not self.port):
            raise ConfigError("[upload] protocol xml needs host and port of the data centre")
        if self.protocol == "json" and not (self.url and self.url.startswith(("https://", "http://"))):
            raise ConfigError("[upload] protocol json needs url = \"https://…\" (the centre's endpoint)")
