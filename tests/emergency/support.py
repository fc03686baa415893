"""What the plans tests share: the sample campus, rules and roster, and a plans document written to a folder."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from alerts.plans import PlanBook, known_rules, load_plans, sample_plans_file
from alerts.roster import load_roster
from alerts.rules import load_rules
from alerts.service import AlertService
from api.app import build_service, create_app
from app.settings import load_settings
from campus.clock import FrozenClock
from campus.model import load_campus, load_sites
from ingest.decode import Inbound
from tests.support.harness import token_headers
from tests.support.paths import ROOT, SAMPLE
from tests.support.servers import serving

CAMPUS = load_campus(SAMPLE)
SILENCE = re.compile(r"^(  - id: (?:device-stale|bus-silent))$", re.M)
RULES = known_rules(load_rules())
ROSTER = load_roster(ROOT / "alerts" / "sample_roster.yaml")
ROLES = ROSTER.role_names()


def minimal() -> dict[str, Any]:
    """A small valid plans document (one plan, two steps, a place with a photo, a contact)."""
    return {"plans": [{
        "id": "water-burst", "name": {"zh": "爆管", "en": "Burst"},
        "activates": {"rules": ["night-leak"], "severities": ["major", "critical"]},
        "steps": [{"id": "confirm", "text": {"zh": "确认", "en": "Confirm"}, "role": "on_duty", "within": "15min"},
                  {"id": "isolate", "text": {"zh": "关阀", "en": "Close the valve"}, "role": "crew_leader"}],
        "places": [{"what": "valve", "name": {"zh": "总阀", "en": "Main valve"}, "building": "dorm-1",
                    "where": {"zh": "地下室", "en": "Basement"}, "photo": "photos/dorm1-water-valve.jpg"}],
        "contacts": [{"name": {"zh": "自来水公司", "en": "Water company"}, "phone": "96116"}]}]}


def with_photos(folder: Path) -> Path:
    """``folder`` with the sample's photos copied under photos/."""
    shutil.copytree(sample_plans_file().parent / "photos", folder / "photos", dirs_exist_ok=True)
    return folder


def book(doc: Any, folder: Path) -> PlanBook:
    """The plan book of ``doc`` written as ``folder/plans.yaml`` (JSON is YAML), checked against the sample site."""
    path = folder / "plans.yaml"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return PlanBook(load_plans(path)[None], CAMPUS, RULES, ROLES, folder)


@contextmanager
def emergency_services(data: Path, smtp_port: int, clock: FrozenClock,
                       batch: Sequence[Inbound] = ()) -> Iterator[tuple[FastAPI, AlertService]]:
    """The app over the sample campus, its duty roster (e-mail to ``smtp_port``) and its plans, with a real alert
    service on ``clock`` (its dispatcher too: a message is sent, and noted, at the frozen time) that has evaluated
    ``batch``. No broker; the alert service's own loop is not started: the test ticks it."""
    data.mkdir(parents=True, exist_ok=True)
    roster = data / "roster.yaml"
    roster.write_text((ROOT / "alerts" / "sample_roster.yaml").read_text(encoding="utf-8")
                      .replace("127.0.0.1:25?", f"127.0.0.1:{smtp_port}?"), encoding="utf-8")
    # the campus's meters send nothing here: the rules that watch for silence are off, so that every alert is the
    # test's own
    rules = data / "rules.yaml"
    rules.write_text(SILENCE.sub(r"\1\n    enabled: false", (ROOT / "alerts" / "default_rules.yaml").read_text(
        encoding="utf-8")), encoding="utf-8")
    config = load_settings(None, data_dir=data, alerts={"roster_file": roster, "mqtt_publish": False,
                                                        "rules_file": rules},
                           records={"plans_file": sample_plans_file(), "check_s": 0, "files_sweep_s": 0})
    ingest = build_service(config, load_sites(SAMPLE), connect_mqtt=False)
    alerts = AlertService(data_dir=data, mqtt=config.mqtt, connect_mqtt=False, clock=clock,
                          settings=config.alerts, plans_file=config.records.plans_file)
    alerts.dispatcher.clock = clock  # messages are sent and noted on the frozen clock, as escalation runs on it
    try:
        ingest.start()
        if batch:
            ingest.pipeline.commit(list(batch))
            alerts.evaluate(list(batch))
        alerts.dispatcher.start()
        yield create_app(config, service=ingest, alerts=alerts, clock=clock), alerts
    finally:
        alerts.stop()
        ingest.stop()


@contextmanager
def emergency_app(data: Path, smtp_port: int, clock: FrozenClock,
                  batch: Sequence[Inbound] = ()) -> Iterator[tuple[TestClient, AlertService]]:
    """``emergency_services``' app in a test client that holds an admin's token (office-admin)."""
    with emergency_services(data, smtp_port, clock, batch) as (app, alerts), \
            TestClient(app, headers=token_headers(data, "admin", "office-admin")) as client:
        yield client, alerts


@contextmanager
def emergency_served(data: Path, smtp_port: int, clock: FrozenClock) -> Iterator[tuple[str, AlertService]]:
    """``emergency_services``' app served by a real uvicorn on a loopback port (for the console in Chromium): its
    base URL."""
    with emergency_services(data, smtp_port, clock) as (app, alerts), serving(app) as base:
        yield base, alerts
