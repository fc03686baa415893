"""Configuration of the alerts section (``[alerts]`` in meterwatch.toml, METERWATCH_ALERTS__...)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class AlertSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    process: bool = Field(default=True, description="run the alert engine in a process of its own (a second core)")
    external: bool = Field(default=False, description="the alert engine runs under its own unit (`meterwatch alerts "
                           "run`): serve does not start it, its API reads the engine's store")
    rules_file: Path | None = Field(default=None, description="rule YAML; default: the packaged default rules")
    roster_file: Path | None = Field(default=None, description="duty roster YAML, or a directory of SITE.yaml "
                                     "rosters (one per site); without one, alerts go to MQTT only")
    sites: list[str] = Field(default_factory=list, description="the sites this alert process evaluates (each "
                             "site's readings in order, by one engine); empty: every site. Several alert processes "
                             "split a district by naming disjoint sites, each with its own client_id")
    client_id: str = Field(default="meterwatch-alerts", description="its own persistent MQTT session")
    username: str | None = Field(default=None, description="its own broker account (with use_username_as_clientid "
                                 "the username is the session); meterwatch deploy mosquitto creates it")
    password: SecretStr | None = Field(default=None, description="better: METERWATCH_ALERTS__PASSWORD")
    clock: Literal["wall", "stream"] = Field(
        default="wall", description="wall: real time; stream: the newest reading time (simulated campuses)")
    public_url: str = Field(default="http://127.0.0.1:8000", description="base of acknowledge links in messages")
    ack_link_ttl: float = Field(default=86_400, gt=0, le=30 * 86_400,
                                description="seconds an acknowledge link in a message stays valid (default 24 h)")
    mqtt_publish: bool = Field(default=True, description="publish alerts to {prefix}/{site}/alerts/{severity}")
    fresh_s: float = Field(
        default=3600, ge=0, description="a reading that reaches the alert engine more than this many seconds after it "
        "was taken is history (a gateway's backlog, a backfill): alerts follow it, but it pages nobody; an alert it "
        "raised is told once a live reading confirms it. 0: every reading pages (a past replayed as if live)")
    tick_s: float = Field(default=1.0, gt=0, description="how often silence and escalation are checked")
    max_batch_messages: int = Field(default=500, ge=1)
    retry_initial_s: float = Field(default=2.0, gt=0)
    retry_max_s: float = Field(default=300.0, gt=0)
    max_attempts: int = Field(default=10, ge=1)
