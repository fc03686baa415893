"""The alert desk: what people and the HTTP API work with — the alert store, the rules and the
roster for names and routes, acknowledge and resolve. It needs no engine and no broker, so the
API can run it in the server process while the alert engine runs in a process of its own;
both meet in the store (alerts.db, or schema ``alerts`` on the state server with ``[state] url``). (The engine
learns of a hand resolve from the store.)"""

from __future__ import annotations

import contextlib
import hmac
import os
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from alerts.book import AlertBook, BookSettings, sign
from alerts.config import AlertSettings
from alerts.plans import PlanBook, known_rules, load_plans, plans_folder, plans_of
from alerts.roster import DutyRoster, Person, load_rosters, roster_of
from alerts.rules import RuleBook, load_rules
from alerts.store import Alert, AlertStore
from campus.calendar import CampusCalendar
from campus.clock import Clock, WallClock
from campus.db import DataDir, private_dir
from campus.errors import ConfigError, NotFound
from campus.labels import CampusNames
from campus.model import Campus
from campus.registry import Registry

_SIG = re.compile(r"[0-9a-f]{32}")


def secret_key(data_dir: Path) -> bytes:
    """The key that signs acknowledge links, made once per data directory (mode 600)."""
    key = DataDir(data_dir).alerts_key
    if not key.exists():
        with contextlib.suppress(FileExistsError):  # created 0600 from the start, never readable by others
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
    return bytes.fromhex(key.read_text().strip())


@dataclass
class SiteDesk:
    """One site's rules, duty roster and alert book."""

    campus: Campus
    rules: RuleBook
    roster: DutyRoster
    book: AlertBook
    names: CampusNames


class AlertDesk:
    def __init__(self, *, data_dir: Path, settings: AlertSettings, language: str = "zh-CN",
                 topic_prefix: str = "campus", clock: Clock | None = None, plans_file: Path | None = None,
                 state_url: str | None = None) -> None:
        private_dir(data_dir)
        self.settings, self.language, self.topic_prefix = settings, language, topic_prefix
        self.clock = clock or WallClock()  # people acknowledge in real time, whatever clock the rules run on
        self.rule_file = load_rules(settings.rules_file)
        self.rosters = load_rosters(settings.roster_file)
        # no plans file: no plan (the sample's plans name the sample campus's buildings, not yours)
        self.plan_files = load_plans(plans_file) if plans_file is not None else {}
        self.plans_base = plans_folder(plans_file) if plans_file is not None else None
        dirs = DataDir(data_dir, state_url)
        self.registry = Registry(dirs.shared)
        self.store = AlertStore(dirs.shared_alerts)
        # one key for every host of a cluster: a link signed by one is good on the others
        self._secret = secret_key(data_dir) if state_url is None else bytes.fromhex(
            self.store.meta_once("ack_link_key", secrets.token_hex(32)))
        self.lock = threading.RLock()
        self._sites: dict[str, SiteDesk] = {}
        campuses = self.registry.campuses
        if not campuses:
            raise ConfigError("no campus loaded: start with a campus file ([campus] file)")
        if self.store.unadopted() and len(campuses) == 1:
            self.store.adopt(next(iter(campuses)))  # alerts from before sites belong to the one site there was
        self.refresh()

    def _build(self, campus: Campus) -> SiteDesk:
        rules = RuleBook(self.rule_file, campus)
        tz = ZoneInfo(campus.site.timezone)
        roster_file = roster_of(self.rosters, campus.site.id)
        roster = DutyRoster(roster_file, CampusCalendar(campus.calendar), tz)
        plans = None
        if self.plan_files:  # checked against this site's buildings, rules and roles: refused with what to fix
            plans = PlanBook(plans_of(self.plan_files, campus.site.id), campus, known_rules(self.rule_file),
                             roster_file.role_names(), self.plans_base)
        book = AlertBook(self.store, roster, rules, BookSettings(
            campus.site.id, self.language, self.settings.public_url.rstrip("/"), self._secret, tz, self.topic_prefix,
            self.settings.mqtt_publish, self.settings.ack_link_ttl), plans)
        return SiteDesk(campus, rules, roster, book, CampusNames(campus))

    def refresh(self) -> set[str]:
        """Follow campus changes (sites added, devices imported or moved); the sites whose rule book was rebuilt."""
        changed = set()
        for site_id, campus in self.registry.campuses.items():
            known = self._sites.get(site_id)
            if known is None or known.campus is not campus:
                self._sites[site_id] = self._build(campus)
                changed.add(site_id)
        return changed

    def sites(self) -> dict[str, SiteDesk]:
        self.refresh()
        return self._sites

    @property
    def known(self) -> dict[str, SiteDesk]:
        """The sites' desks as of the last :meth:`refresh` (no look at the registry: for a caller that just did)."""
        return self._sites

    def site(self, site: str | None) -> SiteDesk:
        """A site's desk; None: the only site's."""
        sites = self.sites()
        if site is None:
            if len(sites) != 1:
                raise ConfigError(f"{len(sites)} sites: name one")
            return next(iter(sites.values()))
        desk = sites.get(site)
        if desk is None:
            raise NotFound(f"no site {site!r}")
        return desk

    def of(self, alert: Alert) -> SiteDesk:
        """The desk of an alert's site (an alert from before sites: the only one's)."""
        return self.site(alert.site) if alert.site else self.site(None)

    # the only site's, for one-site callers and tests
    @property
    def rules(self) -> RuleBook:
        return self.site(None).rules

    @property
    def book(self) -> AlertBook:
        return self.site(None).book

    @property
    def roster(self) -> DutyRoster:
        return self.site(None).roster

    @property
    def names(self) -> CampusNames:
        return self.site(None).names

    def person(self, person_id: str) -> tuple[Person | None, list[str]]:
        """A person on any site's roster, and the zones they answer for."""
        for roster in self.rosters.values():
            found = next((p for p in roster.people if p.id == person_id), None)
            if found is not None:
                return found, roster.zones_of(person_id) or []
        return None, []

    def ack(self, alert_id: int, by: str, comment: str | None = None) -> Alert:
        with self.lock:
            return self.of(self.store.get(alert_id)).book.ack(alert_id, by, comment, self.clock.now_ms())

    def resolve(self, alert_id: int, by: str, reason: str) -> Alert:
        with self.lock:
            return self.of(self.store.get(alert_id)).book.resolve(alert_id, by, reason, self.clock.now_ms())

    def verify(self, alert_id: int, person: str, expires_s: int, sig: str) -> bool:
        """A signed acknowledge link: well-formed, signed by this data directory's key, for a roster person.
        (Expiry is checked by the caller, who tells an expired link apart from a forged one.)"""
        if not _SIG.fullmatch(sig) or self.person(person)[0] is None:
            return False
        return hmac.compare_digest(sign(self._secret, alert_id, person, expires_s), sig)

    @property
    def secret(self) -> bytes:
        return self._secret

    def close(self) -> None:
        self.store.close()
        self.registry.close()
