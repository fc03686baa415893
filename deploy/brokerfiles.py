"""Mosquitto's ``mosquitto.conf``, ``passwd`` and ``acl``, written from the registry and the credentials.

The rules, plainly:

- nobody anonymous; the username is the client id (``use_username_as_clientid``), so nobody can take
  over another client's session by reusing its id;
- a gateway, or a device without one, may publish only ``{prefix}/{site}/{device}/reading``, ``…/status``
  and ``…/health`` (its last poll of the meter) of its own devices; a gateway reads only its drill requests
  (``{prefix}/{site}/{gateway}/drill``), a device nothing;
- meterwatch's own processes are service accounts: each may read every reading, status, health and alert
  announcement, and the alert process may also publish the announcements (``{prefix}/{site}/alerts/…``);
  an on-site display is a service account too (``[broker] service_accounts``); each reads and writes the
  drills' answers (``{prefix}/{site}/drills/…``), and the server's own (the one that enters readings by hand)
  asks gateways for a drill's reading (``{prefix}/{site}/+/drill``);
- nothing else is allowed.

The three files are written next to each other and each replaced atomically (``os.replace``).
"""

from __future__ import annotations

import contextlib
import grp
import os
import shlex
import shutil
import signal
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from campus.errors import ConfigError, Invalid
from campus.model import Campus, Device, DtuTopics
from deploy.credentials import mosquitto_hash, verify
from ingest.config import BrokerSettings

MAX_PACKET_BYTES = 256 * 1024 + 4096  # the ingest payload limit plus topic and header
CHANNELS = ("reading", "status", "health")  # campus.contract.Channel: what a publisher sends for a device
HEADER = "# Written by `meterwatch deploy mosquitto` from the device registry: edits here are overwritten.\n"


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """One of meterwatch's own processes at the broker."""

    name: str
    password: str
    publishes_alerts: bool = False
    enters_readings: bool = False  # the server's own ([mqtt]): hands readings by hand (抄表) on to the alert engine


@dataclass(frozen=True, slots=True)
class BrokerFiles:
    conf: str
    passwd: str
    acl: str
    users: frozenset[str]  # everyone the password file lets in
    without_credentials: tuple[str, ...]  # gateways and devices that publish but have none yet


def _check_level(label: str, value: str) -> None:
    if not value or any(c in value for c in "+#/\0 ") or value.startswith("$"):
        raise ConfigError(f"{label} {value!r} cannot be a topic level of the ACL (no + # / or spaces)")


def publishers_of(campuses: Iterable[Campus]) -> dict[str, tuple[str, list[Device]]]:
    """Who connects, over every site: username → (site, the devices it publishes for). Broker usernames are
    global, so a gateway id (or a gateway-less device's) may be used by one site only."""
    out: dict[str, tuple[str, list[Device]]] = {}
    for campus in campuses:
        for who, devices in campus.publishers().items():
            if who in out:
                raise ConfigError(f"{who!r} publishes in sites {out[who][0]} and {campus.site.id}: a broker username "
                                  f"names one client, so give one of them another id (e.g. {campus.site.id}-{who})")
            out[who] = (campus.site.id, devices)
    return out


def dtus_of(campuses: Iterable[Campus], prefix: str) -> dict[str, tuple[str, DtuTopics]]:
    """Every 4G DTU's broker username → (its gateway, its bus), over every site. A DTU's topics must lie outside
    meterwatch's own (``{prefix}/…``): a DTU that could write there could publish readings for any meter. A breach
    is :class:`Invalid` (422 where a request made it)."""
    out: dict[str, tuple[str, DtuTopics]] = {}
    used: dict[str, str] = {}  # topic → the DTU using it
    for campus in campuses:
        for who, (gateway, topics) in campus.dtus().items():
            for topic in (topics.up, topics.down):
                if topic == prefix or topic.startswith(f"{prefix}/") or topic.startswith("$"):
                    raise Invalid(f"DTU {who!r}: its topic {topic!r} lies under meterwatch's own topics "
                                      f"({prefix}/…); use e.g. dtu/{who}/up and dtu/{who}/down")
            if who in out:
                raise Invalid(f"DTU {who!r} is in two sites: give one of the gateways another id")
            for topic in (topics.up, topics.down):
                if topic in used:
                    raise Invalid(f"DTU {who!r}: topic {topic!r} is DTU {used[topic]!r}'s too: each DTU needs "
                                      "topics of its own")
                used[topic] = who
            out[who] = (gateway, topics)
    return out


def render(broker: BrokerSettings, campuses: Campus | list[Campus], hashes: dict[str, str],
           accounts: Iterable[ServiceAccount], prefix: str, out_dir: Path, *, previous_passwd: str = "") -> BrokerFiles:
    """The three files, for one site or several. ``hashes``: the credentials in force (username → hash). A
    service account keeps its hash from ``previous_passwd`` while its password still matches it, so unchanged
    input gives unchanged files."""
    campuses = [campuses] if isinstance(campuses, Campus) else campuses
    _check_level("topic prefix", prefix)
    for c in campuses:
        _check_level("site id", c.site.id)
    publishers = publishers_of(campuses)
    dtu_accounts = dtus_of(campuses, prefix)
    for who in dtu_accounts:
        if who in publishers:
            raise ConfigError(f"DTU {who!r} logs in under the id of a gateway or device of another site: rename "
                              "its bus or that gateway")
    dtus: dict[str, list[DtuTopics]] = {}
    for gateway, topics in dtu_accounts.values():
        dtus.setdefault(gateway, []).append(topics)
    accounts = list(accounts)
    old = dict(line.split(":", 1) for line in previous_passwd.splitlines() if ":" in line and line[0] != "#")
    for a in accounts:
        _check_level("service account", a.name)
        if a.name in publishers:
            raise ConfigError(f"service account {a.name!r} has the id of a gateway or device: name it otherwise")
    if len({a.name for a in accounts}) != len(accounts):
        raise ConfigError("two of meterwatch's processes use the same broker username: each needs its own "
                          "([mqtt] username, [alerts] username, [broker] service_accounts)")

    passwd: list[str] = []  # no comment lines: the password file is usernames and hashes only
    acl = [HEADER, "# meterwatch's own processes"]
    for a in accounts:
        kept = old.get(a.name)
        passwd.append(f"{a.name}:{kept if kept and verify(a.password, kept) else mosquitto_hash(a.password)}")
        acl += [f"user {a.name}", *(f"topic read {prefix}/+/+/{channel}" for channel in CHANNELS)]
        acl += [f"topic read {prefix}/{c.site.id}/alerts/#" for c in campuses]
        if a.publishes_alerts:
            acl += [f"topic write {prefix}/{c.site.id}/alerts/#" for c in campuses]
        acl += [f"topic {way} {prefix}/{c.site.id}/drills/#" for c in campuses for way in ("read", "write")]
        if a.enters_readings:  # a meter read by hand has no gateway: its readings come from the server
            acl += [f"topic write {prefix}/{c.site.id}/{d.id}/reading" for c in campuses for d in c.devices
                    if d.manual]
            acl += [f"topic write {prefix}/{c.site.id}/+/drill" for c in campuses]  # asking a gateway
        acl.append("")
    acl.append("# gateways and devices: each publishes for its own devices only")
    missing = []
    for who, (site_id, devices) in sorted(publishers.items()):
        if who not in hashes:
            missing.append(who)
            continue
        passwd.append(f"{who}:{hashes[who]}")
        acl.append(f"user {who}")
        site = f"{prefix}/{site_id}"
        if all(dev.id != who for dev in devices):  # a gateway: its own status (Last Will) speaks for its devices
            acl += [f"topic write {site}/{who}/status", f"topic read {site}/{who}/drill"]
        for dev in sorted(devices, key=lambda d: d.id):
            acl += [f"topic write {site}/{dev.id}/{channel}" for channel in CHANNELS]
        for topics in dtus.get(who, []):  # its buses carried over MQTT: it reads the answers, writes the requests
            acl += [f"topic read {topics.up}", f"topic write {topics.down}"]
        acl.append("")
    acl.append("# 4G DTUs carrying a bus over MQTT ({gateway}.{bus}): each writes its up topic, reads its down topic")
    for who, (_, topics) in sorted(dtu_accounts.items()):
        if who not in hashes:
            missing.append(who)
            continue
        passwd.append(f"{who}:{hashes[who]}")
        acl += [f"user {who}", f"topic write {topics.up}", f"topic read {topics.down}", ""]
    if missing:
        acl.append(f"# no credentials yet (meterwatch credentials issue ID): {', '.join(missing)}")
    users = frozenset([a.name for a in accounts] + [w for w in [*publishers, *dtu_accounts] if w in hashes])
    return BrokerFiles(_conf(broker, out_dir), "\n".join(passwd) + "\n", "\n".join(acl) + "\n", users, tuple(missing))


def _conf(b: BrokerSettings, out_dir: Path) -> str:
    if b.port == 0 and b.tls_port == 0:
        raise ConfigError("[broker] port and tls_port are both 0: the broker would have no listener")
    lines = [HEADER.rstrip("\n"),
             "per_listener_settings false",
             "allow_anonymous false",
             f"password_file {out_dir.resolve() / 'passwd'}",
             f"acl_file {out_dir.resolve() / 'acl'}",
             "persistence true",
             f"persistence_location {str(b.persistence_location).rstrip('/')}/",
             "autosave_interval 60",
             "# ingest acknowledges in batches, once stored; what it has not stored yet is never dropped",
             f"max_inflight_messages {b.max_inflight_messages}",
             "max_queued_messages 0",
             "max_queued_bytes 0",
             f"max_packet_size {MAX_PACKET_BYTES}"]
    if b.user:
        lines.append(f"user {b.user}")
    if b.pid_file:
        lines.append(f"pid_file {b.pid_file}")
    lines.append(f"log_dest file {b.log_file}" if b.log_file else "log_dest stderr")
    # listener options go after their listener: before the first one they would open a default listener on 1883
    bind = f" {b.host}" if b.host else ""
    own = "use_username_as_clientid true"  # the username is the client id: nobody takes over another's session
    if b.port:
        lines += ["", f"listener {b.port}{bind}", own]
    if b.tls_port:
        if not (b.certfile and b.keyfile):
            raise ConfigError("[broker] tls_port needs certfile and keyfile (meterwatch deploy certs makes them), "
                              "or set tls_port = 0 for no TLS listener")
        lines += ["", f"listener {b.tls_port}{bind}", own]
        if b.cafile:
            lines.append(f"cafile {b.cafile}")
        lines += [f"certfile {b.certfile}", f"keyfile {b.keyfile}", "tls_version tlsv1.2"]
        if b.require_certificate or b.use_identity_as_username:
            if not b.cafile:
                raise ConfigError("[broker] require_certificate needs cafile: the CA that signs client certificates")
            lines.append("require_certificate true")
        if b.use_identity_as_username:
            lines.append("use_identity_as_username true")
    return "\n".join(lines) + "\n"


def write(files: BrokerFiles, out_dir: Path, group: str | None = None) -> None:
    """Write the three files, each replaced atomically; ``passwd`` readable by the broker's group only."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text, mode in (("acl", files.acl, 0o644), ("passwd", files.passwd, 0o640),
                             ("mosquitto.conf", files.conf, 0o644)):
        tmp = out_dir / f".{name}.tmp"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if group and os.geteuid() == 0:
            with contextlib.suppress(KeyError, PermissionError):
                grp.getgrnam(group)
                shutil.chown(tmp, group=group)
        os.replace(tmp, out_dir / name)
    dir_fd = os.open(out_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def users_in(passwd: Path) -> set[str]:
    """Usernames in an existing password file (none if it does not exist)."""
    try:
        text = passwd.read_text(encoding="utf-8")
    except FileNotFoundError:
        return set()
    return {line.split(":", 1)[0] for line in text.splitlines() if ":" in line and not line.startswith("#")}


def signal_reload(broker: BrokerSettings) -> None:
    """Make the broker re-read its password file and ACL: ``reload_command``, else SIGHUP to ``pid_file``."""
    if broker.reload_command:
        try:
            subprocess.run(shlex.split(broker.reload_command), check=True, timeout=60)  # noqa: S603 - the operator's
        except (OSError, subprocess.SubprocessError) as exc:
            raise ConfigError(f"[broker] reload_command {broker.reload_command!r} failed: {exc}") from exc
        return
    if broker.pid_file is None:
        raise ConfigError("cannot reload the broker: set [broker] pid_file or reload_command")
    try:
        pid = int(broker.pid_file.read_text(encoding="ascii").strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot reload the broker through [broker] pid_file {broker.pid_file}: {exc}") from exc
