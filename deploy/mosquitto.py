"""The broker's files from the configuration, the registry and the credentials; reloading the broker.

Used by ``meterwatch deploy mosquitto`` and, with ``[broker] manage = true``, after every change to
devices, gateways or credentials. A reload also disconnects everyone who lost access: Mosquitto 2.0
re-reads its files on SIGHUP but keeps connected clients, so each of them is taken over once (see
:func:`ingest.mqtt.take_over`) with a one-time secret that the files carry only for that moment and
that no ACL line lets publish anything.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from app.settings import Settings
from campus.errors import ConfigError, MeterwatchError
from campus.registry import Registry
from deploy.brokerfiles import BrokerFiles, ServiceAccount, render, signal_reload, users_in, write
from deploy.credentials import Credentials, mosquitto_hash
from ingest.mqtt import take_over

log = logging.getLogger("meterwatch.broker")
TAKE_OVER_S = 15.0


@dataclass(frozen=True, slots=True)
class Deployed:
    out_dir: Path
    files: BrokerFiles
    reloaded: bool
    disconnected: tuple[str, ...]   # lost access and were taken off the broker
    still_connected: tuple[str, ...]  # lost access, but could not be taken over (see the log)


def service_accounts(settings: Settings) -> list[ServiceAccount]:
    """meterwatch's own processes, each with its own username (the broker's client id)."""
    out = []
    if settings.mqtt.username and settings.alerts.enabled and not settings.alerts.username:
        raise ConfigError("[alerts] username: the alert process needs a broker account of its own (the username is "
                          "its client id: sharing ingest's, each would take the other's session)")
    named = [("[mqtt]", settings.mqtt.username, settings.mqtt.password, False)]
    if settings.alerts.enabled:
        named.append(("[alerts]", settings.alerts.username, settings.alerts.password, True))
    for section, user, password, alerts in named:
        if user is None:
            continue
        if password is None:
            env = "METERWATCH_MQTT__PASSWORD" if section == "[mqtt]" else "METERWATCH_ALERTS__PASSWORD"
            raise ConfigError(f"{section} username {user!r} has no password: set {section} password or {env}")
        out.append(ServiceAccount(user, password.get_secret_value(), alerts, enters_readings=section == "[mqtt]"))
    out += [ServiceAccount(name, pw.get_secret_value()) for name, pw in settings.broker.service_accounts.items()]
    return out


def broker_dir(settings: Settings, out_dir: Path | None = None) -> Path:
    return out_dir or settings.broker.config_dir or settings.data_dir / "mosquitto"


def deploy_mosquitto(settings: Settings, out_dir: Path | None = None, *, reload: bool = False) -> Deployed:
    out = broker_dir(settings, out_dir)
    registry = Registry(settings.datadir().shared)
    credentials = Credentials(settings.datadir().shared)
    try:
        campuses, hashes = list(registry.campuses.values()), credentials.active()
    finally:
        registry.close()
        credentials.close()
    passwd = out / "passwd"
    previous = passwd.read_text(encoding="utf-8") if passwd.exists() else ""
    files = render(settings.broker, campuses, hashes, service_accounts(settings), settings.mqtt.topic_prefix, out,
                   previous_passwd=previous)
    leaving = sorted(users_in(passwd) - files.users)
    group = settings.broker.user
    disconnected: list[str] = []
    if reload and leaving:
        once = {who: secrets.token_urlsafe(24) for who in leaving}
        extra = "".join(f"{who}:{mosquitto_hash(pw)}\n" for who, pw in once.items())
        write(dataclasses.replace(files, passwd=files.passwd + extra), out, group)
        signal_reload(settings.broker)
        for who, pw in once.items():
            if take_over(settings.mqtt, who, pw, TAKE_OVER_S):
                disconnected.append(who)
            else:
                log.warning("could not take a revoked client off the broker; restart the broker to be sure",
                            extra={"username": who})
    write(files, out, group)
    if reload:
        signal_reload(settings.broker)
    return Deployed(out, files, reload, tuple(disconnected), tuple(w for w in leaving if w not in disconnected))


def keep_broker_current(settings: Settings) -> None:
    """After a change to devices, gateways or credentials: with ``[broker] manage``, rewrite and reload. A
    failure is logged, never raised: the change itself is made and the next one tries again."""
    if not settings.broker.manage:
        return
    try:
        done = deploy_mosquitto(settings, reload=True)
    except (MeterwatchError, OSError) as exc:
        log.warning("broker files not updated", extra={"error": str(exc)})
        return
    log.info("broker files updated", extra={"dir": str(done.out_dir), "users": len(done.files.users),
                                             "disconnected": list(done.disconnected)})
