"""Shared steps of the alert tests: a roster pointing at local peers, a simulated campus run
through the engine in process, and publishing part of a simulation to a broker."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from alerts.config import AlertSettings
from alerts.engine import Engine, Transition
from alerts.rules import RuleBook, load_rules
from alerts.service import AlertService
from alerts.store import AlertStore
from campus.clock import FrozenClock, StreamClock
from campus.contract import DEFAULT_LIMITS, Limits
from campus.db import DataDir
from campus.model import load_campus
from campus.registry import Registry
from ingest.config import MqttSettings
from ingest.decode import Inbound, decode
from ingest.mqtt import shut
from simulators.model import Publication, Simulation, load_campus_doc
from tests.support.harness import TZ
from tests.support.paths import SAMPLE


def roster_text(webhook_port: int, smtp_port: int, *, to_leader_s: float = 3, to_head_s: float = 6) -> str:
    return f"""
channels:
  email: "mailto://127.0.0.1:{smtp_port}?from=meterwatch@yucai.edu.cn&to={{email}}&mode=insecure"
  webhook: "json://127.0.0.1:{webhook_port}/duty/{{id}}"
people:
  - {{id: wang, name: 王建国, email: wang@yucai.edu.cn, notify: [email, webhook]}}
  - {{id: zhao, name: 赵立新, email: zhao@yucai.edu.cn, notify: [email, webhook]}}
  - {{id: li, name: 李强, email: li@yucai.edu.cn, notify: [email, webhook]}}
  - {{id: sun, name: 孙海, email: sun@yucai.edu.cn, notify: [email, webhook]}}
  - {{id: chen, name: 陈志明, email: chen@yucai.edu.cn, notify: [email, webhook]}}
  - {{id: liu, name: 刘芳, email: liu@yucai.edu.cn, language: en, notify: [email, webhook]}}
shifts:
  - {{zones: [zone-north], people: [wang], days: [workday], hours: "08:00-17:30"}}
  - {{zones: [zone-south], people: [zhao], days: [workday], hours: "08:00-17:30"}}
  - {{zones: [all], people: [li], days: [workday], hours: "17:30-08:00"}}
  - {{zones: [all], people: [sun], days: [offday], hours: "08:00-08:00"}}
fallback: [chen]
roles: {{crew_leader: [chen], canteen_manager: [wang], office_head: [liu]}}
routes:
  - id: critical
    match: {{severity: [critical]}}
    levels:
      - {{to: [on_duty]}}
      - {{to: [chen], after: {to_leader_s}s}}
      - {{to: [liu], after: {to_head_s}s}}
  - id: default
    levels: [{{to: [on_duty]}}, {{to: [chen], after: 1h}}]
"""


def simulation(start: datetime, hours: float, faults: list[str], seed: int = 7) -> Simulation:
    return Simulation(load_campus_doc(SAMPLE), start=start, end=start + timedelta(hours=hours), seed=seed,
                      faults=faults)


def inbound(pubs: Iterable[Publication]) -> list[Inbound]:
    return [Inbound(p.topic, p.payload, p.ts_ms, qos=0) for p in pubs]


def run_engine(sim: Simulation, tick_every_s: int = 60) -> list[Transition]:
    """Drive the rule engine over a simulation in process (stream time), as the service does."""
    campus = load_campus(SAMPLE)
    registry = Registry(Path(tempfile.mkdtemp(prefix="mw-engine-")) / "meterwatch.db")
    registry.seed(campus)
    engine = Engine(RuleBook(load_rules(), campus), watching_since_ms=sim.start_ms)
    clock = StreamClock(sim.start_ms)
    out: list[Transition] = []
    last_tick = sim.start_ms
    for pub in sim.publications():
        d = decode(Inbound(pub.topic, pub.payload, pub.ts_ms), registry, "campus")
        for r in d.readings:
            clock.saw(r.ts)
            out += engine.reading(r)
        for (_, device), online in d.statuses:
            out += engine.status(device, online, pub.ts_ms)
        if clock.now_ms() - last_tick >= tick_every_s * 1000:
            last_tick = clock.now_ms()
            out += engine.tick(last_tick)
    registry.close()
    return out


def publish(url_port: int, pubs: Iterable[Publication], timeout_s: float = 60) -> int:
    """Publish with QoS 1 and wait for every PUBACK."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="", protocol=paho.MQTTv311)
    client.max_inflight_messages_set(200)
    client.connect("127.0.0.1", url_port)
    client.loop_start()
    infos = [client.publish(p.topic, p.payload, qos=1, retain=p.retain) for p in pubs]
    for info in infos:
        info.wait_for_publish(timeout_s)
    shut(client)
    return len(infos)


def local(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=TZ)


def last_word(pubs: list[Publication]) -> tuple[Publication, int]:
    """A reading published after ``pubs``, an hour after the newest of them, and its time (ms). Once the alert
    engine has stored it as its device's last reading, it has evaluated everything delivered before it (one
    session, in order): what a test waits for before asserting that nothing more happened."""
    last = max((p for p in pubs if p.what == "reading" and p.readings), key=lambda p: p.readings[-1][0])
    values = last.readings[-1][1]
    ts_ms = (max(p.ts_ms for p in pubs) // 1000 + 3600) * 1000
    payload = json.dumps({"ts": ts_ms // 1000, "values": values}).encode()
    return Publication(ts_ms, last.topic, payload, last.device, readings=[(ts_ms, values)]), ts_ms


def evaluated_up_to(data_dir: Path, device: str, ts_ms: int, site: str = "yucai", state: str | None = None) -> bool:
    """The alert engine has committed ``device``'s reading at ``ts_ms`` (its saved state), from any process
    (``state``: the ``[state] url`` the alerts live under)."""
    store = AlertStore(DataDir(data_dir, state).shared_alerts)
    try:
        state = store.load_engine(site).devices.get(device)
    finally:
        store.close()
    return state is not None and state.get("ts") == ts_ms


def alert_service(data: Path, clock: FrozenClock, limits: Limits = DEFAULT_LIMITS, *,
                  peers: tuple[int, int] = (1, 1), state: str | None = None) -> AlertService:
    """A real AlertService over ``data`` (the sample campus seeded once), escalating on ``clock``: leader after
    5 min, head after 15. ``peers``: the (webhook, SMTP) ports its roster sends to (default: nowhere);
    ``state``: the ``[state] url`` (alerts and registry on PostgreSQL)."""
    data.mkdir(parents=True, exist_ok=True)
    reg = Registry(DataDir(data, state).shared)
    if not reg.campuses:
        reg.seed(load_campus(SAMPLE))
    reg.close()
    roster = data / "roster.yaml"
    roster.write_text(roster_text(*peers, to_leader_s=300, to_head_s=900), encoding="utf-8")
    return AlertService(data_dir=data, mqtt=MqttSettings(), clock=clock, connect_mqtt=False,
                        settings=AlertSettings(roster_file=roster, mqtt_publish=False), limits=limits,
                        state_url=state)
