"""A technical drill's path check: a meter's reading through the broker to ingest and the alert engine, stored by
nobody (the drill tag on the wire: ``campus.contract``).

Rules:
- The check asks the meter's meterwatch gateway for one drill-tagged reading (``{prefix}/{site}/{gateway}/drill``);
  a meter read by hand has no gateway: the server publishes the drill reading itself, with its own account, on the
  meter's reading topic (the broker lets the server's account write there, and nobody else).
- A meter with no meterwatch gateway (no meter link: a third-party gateway, or a device that publishes itself) has
  nobody to ask: said at once, nothing is sent. So is a virtual meter (it takes no readings).
- Everything else goes through the broker as a real reading would, credentials and ACL included: a revoked
  credential fails here as it will fail in a real event. The answers are awaited on
  ``{prefix}/{site}/drills/{drill}/ingest`` and ``…/alerts`` as events (no polling), at most ``timeout_s`` in all.
- A failure is said in zh-CN and English with what to fix: the gateway's credentials (revoked, never issued), the
  gateway not answering, ingest refusing the reading or not answering, the alert engine not answering.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

import orjson

from campus.contract import DRILL_KEY, REGISTER_FIELD, drill_request_topic, drill_topic
from campus.contract import drill_id as checked_drill_id
from campus.errors import Invalid, NotFound, PayloadError
from campus.labels import Name
from campus.model import Campus, Device

log = logging.getLogger("meterwatch.emergency.chain")
MAX_ANSWER_BYTES = 4096  # an answer is one small object; anything larger is ignored
SERVER = "server"  # ``via`` of a meter read by hand: the server published the drill reading itself


class CredentialState(Protocol):
    """One broker credential as ``deploy.credentials.Credential`` keeps it."""

    @property
    def id(self) -> str: ...

    @property
    def revoked_ms(self) -> int | None: ...


class CredentialBook(Protocol):
    """The broker credentials (``deploy.credentials.Credentials``; the server hands them in: deploy sits above)."""

    def list(self) -> Sequence[CredentialState]: ...


class Channel(Protocol):
    """A publish/subscribe seam on the server's own broker connection (``ingest.mqtt.MqttChannel``: the ingest
    service's ``mqtt.channel``; one connection per account, since the username is the client id)."""

    def subscribe(self, topic: str, on_message: Callable[[str, bytes], None]) -> None: ...
    def unsubscribe(self, topic: str) -> None: ...
    def wait_subscribed(self, topic: str, timeout_s: float) -> bool: ...
    def publish(self, topic: str, payload: bytes, timeout_s: float = 5.0) -> None: ...


@dataclass(frozen=True)
class ChainResult:
    """One check, stage by stage. ``said`` is None when every stage passed; else why not, and what to fix."""

    site: str
    device: str
    drill: str
    via: str | None              # the gateway asked, SERVER (a meter read by hand), None (nobody to ask)
    sent: bool                   # the broker took the request (or the server's drill reading)
    gateway_answered: bool       # the drill reading reached ingest or the alert engine through the broker
    ingest_ok: bool | None       # ingest's word (None: no answer): it would have taken the reading
    ingest_error: str | None     # why ingest would have refused it
    alerts_saw: bool             # the alert engine saw it (and moved nothing)
    rules: tuple[str, ...]       # the rules watching the device, as the alert engine said
    said: Name | None
    seconds: float               # how long the check took

    @property
    def ok(self) -> bool:
        return self.said is None


class _Answers:
    """The two answers of one drill, as they come (on paho's thread)."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.ingest = threading.Event()
        self.alerts = threading.Event()
        self.ingest_ok: bool | None = None
        self.ingest_error: str | None = None
        self.rules: tuple[str, ...] = ()

    def heard(self, stage: str, payload: bytes) -> None:
        doc = _object(payload)
        if doc is None or doc.get("device") != self.device:
            log.warning("a drill answer that is not this check's: ignored", extra={"stage": stage})
            return
        ok, error, rules = doc.get("ok"), doc.get("error"), doc.get("rules")
        if stage == "ingest" and isinstance(ok, bool):
            self.ingest_ok, self.ingest_error = ok, error[:500] if isinstance(error, str) else None
            self.ingest.set()
        elif stage == "alerts" and isinstance(rules, list):
            self.rules = tuple(r for r in rules if isinstance(r, str))[:200]
            self.alerts.set()


def _heard(answers: _Answers, stage: str) -> Callable[[str, bytes], None]:
    return lambda _topic, payload: answers.heard(stage, payload)


def _object(payload: bytes) -> dict[str, object] | None:
    if len(payload) > MAX_ANSWER_BYTES:
        return None
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


class ChainCheck:
    """Checks the path of one meter's readings, on the server's broker connection."""

    def __init__(self, channel: Channel, credentials: CredentialBook, campuses: Callable[[], Mapping[str, Campus]],
                 topic_prefix: str = "campus", *, clock: Callable[[], float] = time.time) -> None:
        self.channel, self.credentials, self.campuses = channel, credentials, campuses
        self.prefix, self.clock = topic_prefix, clock

    def run(self, site: str, device: str, drill_id: str, timeout_s: float = 10.0) -> ChainResult:
        """Ask for the drill reading and wait (at most ``timeout_s``) for ingest's and the alert engine's answers.
        Raises NotFound (no such site or device) and Invalid (a drill id that is not 1-40 of A-Z a-z 0-9 -).
        One check per drill id at a time (its answers' topics are the drill's): give each drill its own id."""
        try:
            drill = checked_drill_id(drill_id)
        except PayloadError as exc:
            raise Invalid(exc.reason) from None
        campus = self.campuses().get(site)
        if campus is None:
            raise NotFound(f"no site {site!r}")
        dev = next((d for d in campus.devices if d.id == device), None)
        if dev is None:
            raise NotFound(f"site {site!r} has no device {device!r}")
        started = time.monotonic()
        nobody = _nobody_to_ask(dev)
        if nobody is not None:
            return ChainResult(site, device, drill, None, False, False, None, None, False, (), nobody, 0.0)
        via = SERVER if dev.manual else dev.gateway
        answers = _Answers(device)
        topics = {stage: drill_topic(self.prefix, site, drill, stage) for stage in ("ingest", "alerts")}
        deadline = started + timeout_s
        sent, said = False, None
        try:
            for stage, topic in topics.items():
                self.channel.subscribe(topic, _heard(answers, stage))
            if not all(self.channel.wait_subscribed(t, _left(deadline)) for t in topics.values()):
                said = _not_granted(self.prefix, site)
            else:
                sent, said = self._ask(campus, dev, drill, deadline)
            if sent:
                answers.ingest.wait(_left(deadline))
                answers.alerts.wait(_left(deadline))
        finally:
            for topic in topics.values():
                self.channel.unsubscribe(topic)
        ingest, alerts = answers.ingest.is_set(), answers.alerts.is_set()
        if said is None:
            said = self._verdict(campus, dev, answers, timeout_s)
        result = ChainResult(site, device, drill, via, sent, ingest or alerts, answers.ingest_ok if ingest else None,
                             answers.ingest_error, alerts, answers.rules, said, round(time.monotonic() - started, 3))
        log.info("technical drill checked", extra={"site": site, "device": device, "drill": drill, "via": via,
                                                   "ok": result.ok, "said": said.en if said else None})
        return result

    def _ask(self, campus: Campus, dev: Device, drill: str, deadline: float) -> tuple[bool, Name | None]:
        site = campus.site.id
        if dev.manual:  # nobody reads it but people: the server publishes what a gateway would
            register = REGISTER_FIELD[dev.kind] or "ph"
            body = {"ts": int(self.clock() * 1000), "values": {register: float(dev.initial_register or 0.0)},
                    DRILL_KEY: drill}
            topic = f"{self.prefix}/{site}/{dev.id}/reading"
        else:
            body = {DRILL_KEY: drill, "device": dev.id}
            topic = drill_request_topic(self.prefix, site, dev.gateway or "")
        try:
            self.channel.publish(topic, orjson.dumps(body), max(0.1, _left(deadline)))
        except (OSError, RuntimeError, ValueError) as exc:  # TimeoutError, or paho: not connected
            return False, Name(zh=f"代理服务器未收下演练请求（{exc}）：检查服务器与 MQTT 代理的连接"
                                  "（meterwatch status）",
                               en=f"the broker did not take the drill request ({exc}): check the server's connection "
                                  "to the broker (meterwatch status)")
        return True, None

    def _verdict(self, campus: Campus, dev: Device, answers: _Answers, timeout_s: float) -> Name | None:
        ingest, alerts = answers.ingest.is_set(), answers.alerts.is_set()
        n = f"{timeout_s:g}"
        if ingest and answers.ingest_ok is False:
            error = answers.ingest_error or "?"
            return Name(zh=f"接入服务拒收了 {dev.id} 的演练读数：{error}（真实读数也会被拒收："
                           "检查该表的接入配置与量程）",
                        en=f"ingest refused {dev.id}'s drill reading: {error} (a real reading would be refused too: "
                           "check the meter's map and scaling)")
        if ingest and alerts:
            return None
        if ingest:
            return Name(zh=f"告警服务在 {n} 秒内未应答（告警进程是否在运行？meterwatch status；检查其代理账号与 ACL）",
                        en=f"alerts did not answer within {n} s (is the alert process running? meterwatch status; "
                           "check its broker account and the ACL)")
        if alerts:
            return Name(zh=f"接入服务在 {n} 秒内未应答（接入进程是否在运行？meterwatch status）",
                        en=f"ingest did not answer within {n} s (is ingest running? meterwatch status)")
        if dev.manual:
            return Name(zh=f"接入服务与告警服务均在 {n} 秒内未应答（服务器自己发布的演练读数无人收到：检查 ACL，"
                           "meterwatch deploy mosquitto --reload）",
                        en=f"neither ingest nor alerts answered within {n} s (the reading the server published "
                           "itself reached nobody: check the ACL, meterwatch deploy mosquitto --reload)")
        return self._gateway_silent(campus, dev.gateway or "", n)

    def _gateway_silent(self, campus: Campus, gateway: str, n: str) -> Name:
        """Nothing came back from a gateway's meter: its credentials first, then the gateway itself."""
        mine = next((c for c in self.credentials.list() if c.id == gateway), None)
        fix = f"meterwatch credentials issue {gateway}, then meterwatch deploy mosquitto --reload"
        if mine is None:
            return Name(zh=f"网关 {gateway} 从未签发代理凭据，无法连接（{fix}）",
                        en=f"gateway {gateway}'s credentials were never issued: it cannot connect ({fix})")
        if mine.revoked_ms is not None:
            day = datetime.fromtimestamp(mine.revoked_ms / 1000, ZoneInfo(campus.site.timezone)).date().isoformat()
            return Name(zh=f"网关 {gateway} 的代理凭据已于 {day} 吊销，代理拒绝其连接（{fix}）",
                        en=f"gateway {gateway}'s credentials were revoked on {day}: the broker refuses it ({fix})")
        return Name(zh=f"没有 meterwatch 网关应答该表：网关 {gateway} 在 {n} 秒内未发出演练读数（它在运行并已连接吗？"
                       "看它的日志；也可能接入与告警服务都未运行）",
                    en=f"no meterwatch gateway answers for this device: gateway {gateway} sent no drill reading within "
                       f"{n} s (is it running and connected? see its log; or neither ingest nor alerts is running)")


def _nobody_to_ask(dev: Device) -> Name | None:
    if dev.virtual is not None:
        return Name(zh=f"{dev.id} 是虚拟表（由其他表计算），没有读数可演练：请选它的某个组成表",
                    en=f"{dev.id} is a virtual meter (computed from others): it has no readings to drill; pick one of "
                       "its terms")
    if dev.manual:
        return None
    if dev.gateway is None or dev.meter is None:
        who = f"网关 {dev.gateway}" if dev.gateway else "该设备自己"
        who_en = f"gateway {dev.gateway}" if dev.gateway else "the device itself"
        return Name(zh=f"没有 meterwatch 网关应答该表：{dev.id} 由{who}发布（没有表计链接），无人可请求演练读数；"
                       "为它配置 meter:（总线、规约、地址）后由 meterwatch 网关读取",
                    en=f"no meterwatch gateway answers for this device: {dev.id} is published by {who_en} (no meter "
                       "link), so there is nobody to ask for a drill reading; give it a meter: (bus, protocol, "
                       "address) read by a meterwatch gateway")
    return None


def _not_granted(prefix: str, site: str) -> Name:
    return Name(zh=f"服务器账号未获准订阅 {prefix}/{site}/drills/#：用 meterwatch deploy mosquitto --reload 重写 ACL",
                en=f"the server's broker account may not read {prefix}/{site}/drills/#: rewrite the ACL with "
                   "meterwatch deploy mosquitto --reload")


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def as_record(r: ChainResult) -> dict[str, object]:
    """What a drill keeps of its technical check (JSON): the verdict, why in both languages, each stage."""
    via = r.via or "—"
    stages = [
        ("request", r.sent, Name(zh=f"请求已发出（经 {via}）", en=f"request sent (through {via})")),
        ("gateway", r.gateway_answered, Name(zh="演练读数经代理服务器到达",
                                             en="the drill reading came through the broker")),
        ("ingest", bool(r.ingest_ok), Name(zh="数据接入校验通过（未入库）" if r.ingest_ok else
                                           f"数据接入未通过：{r.ingest_error or '无应答'}",
                                           en="ingest would take it (not stored)" if r.ingest_ok else
                                           f"ingest: {r.ingest_error or 'no answer'}")),
        ("alerts", r.alerts_saw, Name(zh=f"告警引擎已收到（{len(r.rules)} 条规则监测该设备）",
                                      en=f"the alert engine saw it ({len(r.rules)} rules watch the device)")),
    ]
    passed = Name(zh=f"数据链路正常，用时 {r.seconds:.1f} 秒", en=f"the path works ({r.seconds:.1f} s)")
    said = r.said or passed
    return {"ok": r.ok, "drill": r.drill, "via": r.via, "seconds": round(r.seconds, 3), "rules": list(r.rules),
            "said": {"zh": said.zh, "en": said.en},
            "stages": [{"stage": k, "ok": ok, "said": {"zh": n.zh, "en": n.en}} for k, ok, n in stages]}
