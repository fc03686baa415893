"""The alert desk: what people and the HTTP API work with — the alert store, the rules and the
roster for names and routes, acknowledge and resolve. It needs no engine and no broker, so the
API can run it in the server process while the alert engine runs in a process of its own;
both meet in the SQLite store. (The engine learns of a hand resolve from the store.)"""

from __future__ import annotations

import contextlib
import hmac
import os
import re
import secrets
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

from alerts.book import AlertBook, BookSettings, sign
from alerts.calendar import CampusCalendar
from alerts.clock import Clock, WallClock
from alerts.config import AlertSettings
from alerts.roster import DutyRoster, load_roster
from alerts.rules import RuleBook, load_rules
from alerts.store import Alert, AlertStore
from ingest.db import private_dir
from ingest.labels import CampusNames
from ingest.registry import Registry

_SIG = re.compile(r"[0-9a-f]{32}")


def secret_key(data_dir: Path) -> bytes:
    """The key that signs acknowledge links, made once per data directory (mode 600)."""
    key = data_dir / "alerts.key"
    if not key.exists():
        with contextlib.suppress(FileExistsError):  # created 0600 from the start, never readable by others
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
    return bytes.fromhex(key.read_text().strip())


class AlertDesk:
    def __init__(self, *, data_dir: Path, settings: AlertSettings, language: str = "zh-CN",
                 topic_prefix: str = "campus", clock: Clock | None = None) -> None:
        private_dir(data_dir)
        self.settings = settings
        self.clock = clock or WallClock()  # people acknowledge in real time, whatever clock the rules run on
        self.rule_file = load_rules(settings.rules_file)
        self.roster_file = load_roster(settings.roster_file)
        self.registry = Registry(data_dir / "meterwatch.db")
        self.store = AlertStore(data_dir / "alerts.db")
        self._secret = secret_key(data_dir)
        self.lock = threading.RLock()
        campus = self.registry.campus
        self.rules = RuleBook(self.rule_file, campus)
        tz = ZoneInfo(campus.site.timezone)
        self.roster = DutyRoster(self.roster_file, CampusCalendar(campus.calendar), tz)
        self.book = AlertBook(self.store, self.roster, self.rules, BookSettings(
            campus.site.id, language, settings.public_url.rstrip("/"), self._secret, tz, topic_prefix,
            settings.mqtt_publish, settings.ack_link_ttl))
        self._names = CampusNames(campus)

    @property
    def names(self) -> CampusNames:
        """Device, building and zone names of the campus as it is now."""
        campus = self.registry.campus
        if self._names.campus is not campus:
            self._names = CampusNames(campus)
        return self._names

    def refresh(self) -> bool:
        """Follow campus changes (devices imported, moved); True when the rule book was rebuilt."""
        campus = self.registry.campus
        if campus is self.rules.campus:
            return False
        self.rules = RuleBook(self.rule_file, campus)
        self.book.rules = self.rules
        return True

    def ack(self, alert_id: int, by: str, comment: str | None = None) -> Alert:
        with self.lock:
            return self.book.ack(alert_id, by, comment, self.clock.now_ms())

    def resolve(self, alert_id: int, by: str, reason: str) -> Alert:
        with self.lock:
            return self.book.resolve(alert_id, by, reason, self.clock.now_ms())

    def verify(self, alert_id: int, person: str, expires_s: int, sig: str) -> bool:
        """A signed acknowledge link: well-formed, signed by this data directory's key, for a roster person.
        (Expiry is checked by the caller, who tells an expired link apart from a forged one.)"""
        if not _SIG.fullmatch(sig) or person not in self.roster.people:
            return False
        return hmac.compare_digest(sign(self._secret, alert_id, person, expires_s), sig)

    def close(self) -> None:
        self.store.close()
        self.registry.close()
