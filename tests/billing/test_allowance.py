"""Dorm rooms' free allowance (定额): the statement charges only the use above it, to the fen, worked by hand; the
room's representative is e-mailed (a real SMTP server, aiosmtpd) when 80 % and 100 % of it are used, once each,
across a restart and a mail server that refuses the first try.

The campus: one dorm block, rooms 101 and 102 with an electricity meter each, at the school rate 0.558 元/kWh,
30 kWh free a month. Readings at local midnight only, so each day's use is one step inside that day.

By hand (0.558 元/kWh, 30 kWh free):
  October  42.50 kWh: use 42.50 × 0.558 = 23.715 → 23.72; allowance −30.00 × 0.558 = −16.74; total 6.98
           = 12.50 kWh × 0.558 = 6.975 → 6.98 (the use above the allowance)
  November 30.08 kWh: 30.08 × 0.558 = 16.78464 → 16.78; −16.74; total 0.04 = 0.08 × 0.558 = 0.04464 → 0.04
           (the average price taken from rounded amounts, 16.78 / 30.08 → 0.5579, gave 0.05: fixed)
  December 12.00 kWh: 12.00 × 0.558 = 6.696 → 6.70; −12.00 × 0.558 = −6.70; total 0.00
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from api.app import build_service, create_app
from app.allowance import AllowanceNotifier
from app.settings import load_settings
from billing.allowance import decide
from billing.book import Book
from billing.config import parse_billing
from billing.statements import Biller
from campus.clock import FrozenClock
from campus.contract import Kind, Reading
from campus.db import DataDir
from campus.model import parse_campus
from ingest.decode import Inbound
from ingest.service import IngestService
from ingest.status import PresenceStore
from ingest.stores.sqlite import SqliteStore
from reports.usage import Usage
from tests.support.harness import token_headers
from tests.support.servers import free_port, wait_for

D = Decimal
TZ = dt.timezone(dt.timedelta(hours=8))
CAMPUS = parse_campus("""
site: {id: s, name: 测试中学, timezone: Asia/Shanghai}
buildings:
  - {id: dorm1, name: 1号楼, department: dormitory, floor_area_m2: 3000, occupants: 300}
devices:
  - {id: r101, kind: electricity, building: dorm1, name: 1号楼101室电表, interval_s: 900}
  - {id: r102, kind: electricity, building: dorm1, name: 1号楼102室电表, interval_s: 900}
""")
BILLING = """
tariffs:
  - {id: school, name: 学校合表, kind: electricity, versions: [{from: 2024-01-01, price: 0.5580}]}
payers:
  - {id: room-101, name: 1号楼101室, type: dorm_room, meters: [r101], tariffs: {electricity: school},
     allowance: {electricity: 30}, contact: {name: 101室室长, email: d1-101@yucai.example}}
  - {id: room-102, name: 1号楼102室, type: dorm_room, meters: [r102], tariffs: {electricity: school},
     allowance: {electricity: 30}, contact: {name: 102室室长, email: d1-102@yucai.example}}
"""
ZH_80 = "1号楼101室：本月用电已达定额的80%（24.0/30 kWh），超出部分按0.558元/kWh计费。"
ZH_100 = "1号楼101室：本月用电已达定额的100%（30.5/30 kWh），超出部分按0.558元/kWh计费。"
EN_80 = ("1号楼101室: this month's electricity use has reached 80% of the free allowance (24.0/30 kWh); use above "
         "it is charged at 0.558 元/kWh.")
WAIT_S = 20  # every wait is bounded; a pass takes milliseconds


def ms(day: dt.date, hour: int = 0) -> int:
    return int(dt.datetime(day.year, day.month, day.day, hour, tzinfo=TZ).timestamp() * 1000)


# -- the statement, by hand ------------------------------------------------------------------------------
def _midnights(device: str, start: float, days: dict[dt.date, float]) -> list[Reading]:
    """A reading at each local midnight from the first day to the day after the last, adding each day's use."""
    out, reg = [], start
    first, last = min(days), max(days)
    day = first
    while day <= last + dt.timedelta(days=1):
        out.append(Reading(device, ms(day), Kind.ELECTRICITY, "s", "dorm1", "dormitory", "default",
                           {"energy_kwh": reg}))
        reg += days.get(day, 0.0)
        day += dt.timedelta(days=1)
    return out


@pytest.fixture(scope="module")
def usage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Usage, SqliteStore]]:
    tmp: Path = tmp_path_factory.mktemp("allowance")
    store, presence = SqliteStore(DataDir(tmp).readings), PresenceStore(DataDir(tmp).state)
    use: dict[dt.date, float] = {dt.date(2026, 10, d): 2.5 for d in range(1, 18)}    # 42.5 in October
    use[dt.date(2026, 11, 1)] = 30.08                                                 # 30.08 in November
    use |= {dt.date(2026, 12, d): 1.5 for d in range(1, 9)}                           # 12.0 in December
    u = Usage(tmp, store, lambda: {"s": CAMPUS}, presence)
    try:
        store.write(_midnights("r101", 1000.0, use))
        u.site().refresh()
        yield u, store
    finally:
        u.close()
        store.close()
        presence.close()


@pytest.mark.parametrize(("month", "use", "free", "total"), [
    ("2026-10", "42.50", "30.00", "6.98"), ("2026-11", "30.08", "30.00", "0.04"),
    ("2026-12", "12.00", "12.00", "0.00")])
def test_only_use_above_the_allowance_is_charged(usage: tuple[Usage, SqliteStore], month: str, use: str, free: str,
                                                 total: str) -> None:
    u, store = usage
    book = Book.build(CAMPUS, parse_billing(BILLING)[None])
    biller = Biller(book, u.site("s").rollups, store, month, dt.datetime(2027, 1, 2, tzinfo=TZ))
    s = biller.statement("room-101")
    assert [(ln.section, ln.use, ln.price) for ln in s.lines] == [
        ("use", D(use), D("0.5580")), ("allowance", -D(free), D("0.5580"))]
    assert s.total == D(total)
    assert s.total == sum(ln.amount for ln in s.lines)
    above = max(D(use) - D(free), D(0))
    assert s.total == (above * D("0.558")).quantize(D("0.01"), rounding="ROUND_HALF_UP")  # the use above, priced


# -- the notices -----------------------------------------------------------------------------------------
@dataclass
class Mail:
    to: list[str]
    subject: str
    body: str


class Smtp:
    """A real SMTP server (aiosmtpd) that records e-mail, or refuses it (451, try later) while ``failing``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Mail] = []
        self.refused = 0
        self.failing = False
        outer = self

        class Handler:
            async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
                if outer.failing:
                    outer.refused += 1
                    return "451 4.3.0 mailbox busy, try again later"
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                part = msg.get_body(preferencelist=("plain", "html"))
                outer.received.append(Mail(list(envelope.rcpt_tos), str(msg["subject"]),
                                           part.get_content() if part is not None else ""))
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> Smtp:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


@dataclass
class Running:
    client: TestClient
    service: IngestService
    clock: FrozenClock

    @property
    def notifier(self) -> AllowanceNotifier:
        got: AllowanceNotifier = self.client.app.state.allowance  # type: ignore[attr-defined]
        return got

    def read(self, *readings: tuple[dt.date, float], hour: int = 0) -> None:
        """Room 101's meter reads ``kwh`` at ``hour`` (midnight) of each ``day``: one batch through ingest, as a
        gateway sends it (a check sees all of them or none)."""
        self.service.pipeline.commit([Inbound("campus/s/r101/reading", json.dumps(
            {"ts": ms(day, hour) // 1000, "values": {"energy_kwh": kwh}}).encode(), ms(day, hour))
            for day, kwh in readings])

    def owed(self) -> list[tuple[float, str]]:
        return [(n["threshold"], n["status"]) for n in self.allowance()["kinds"][0]["notices"]]

    def passes(self, n: int = 2) -> None:
        """Wait until ``n`` more whole checks have run."""
        start = self.notifier.passes
        wait_for(lambda: self.notifier.passes >= start + n, WAIT_S, f"{n} allowance checks")

    def allowance(self) -> dict[str, Any]:
        r = self.client.get("/api/v1/payers/room-101/allowance", params={"site": "s", "month": "2026-10"})
        assert r.status_code == 200, r.text
        got: dict[str, Any] = r.json()
        return got


@contextmanager
def running(data: Path, clock: FrozenClock, smtp_port: int) -> Iterator[Running]:
    """The app over a real ingest service (SQLite), checking allowances every 20 ms on the frozen clock."""
    data.mkdir(parents=True, exist_ok=True)
    (data / "billing.yaml").write_text(BILLING, encoding="utf-8")
    (data / "roster.yaml").write_text(
        f'channels:\n  email: "mailto://127.0.0.1:{smtp_port}?from=meterwatch@yucai.edu.cn&to={{email}}'
        '&mode=insecure"\n', encoding="utf-8")
    settings = load_settings(None, data_dir=data, report={"refresh_s": 0},
                             alerts={"enabled": False, "roster_file": data / "roster.yaml"},
                             billing={"file": data / "billing.yaml", "allowance_check_s": 0.02})
    service = build_service(settings, CAMPUS, connect_mqtt=False)
    service.start()
    try:
        with TestClient(create_app(settings, service=service, clock=clock), headers=token_headers(data)) as c:
            yield Running(c, service, clock)
    finally:
        service.stop()


OCT = [dt.date(2026, 10, d) for d in range(1, 32)]


def _to_80(app: Running) -> None:
    app.read(*zip(OCT, [1000.0, 1008.0, 1016.0, 1024.0], strict=False))  # 8 kWh a day, Oct 1-3: 24.0 of 30


def test_80_then_100_percent_two_mails_in_order_to_the_contact(tmp_path: Path) -> None:
    clock = FrozenClock(ms(OCT[3], 12))
    with Smtp() as smtp, running(tmp_path / "data", clock, smtp.port) as app:
        app.passes()
        assert smtp.received == []  # nothing used yet
        _to_80(app)
        wait_for(lambda: len(smtp.received) >= 1, WAIT_S, "the 80 % notice")
        first = smtp.received[0]
        assert first.to == ["d1-101@yucai.example"]
        assert first.body.index(ZH_80) < first.body.index(EN_80)  # Chinese first, English too
        assert "80%" in first.subject
        app.passes()
        assert len(smtp.received) == 1  # told once

        clock.set(ms(OCT[4], 12))
        app.read((OCT[4], 1030.5))  # 30.5 of 30
        wait_for(lambda: len(smtp.received) >= 2, WAIT_S, "the 100 % notice")
        app.passes()
        assert [m.to for m in smtp.received] == [["d1-101@yucai.example"]] * 2  # room 102 used nothing
        assert ZH_100 in smtp.received[1].body

        got = app.allowance()
        (kind,) = got["kinds"]
        assert (kind["used"], kind["allowance"], kind["share"], kind["price"]) == ("30.50", "30", 1.0167, "0.558")
        assert [(n["threshold"], n["status"], n["to"], n["used"], n["attempts"]) for n in kind["notices"]] == [
            (0.8, "sent", "101室室长", "24.00", 1), (1.0, "sent", "101室室长", "30.50", 1)]
        assert all(n["sent_at"].endswith("+08:00") for n in kind["notices"])


def test_a_restart_between_them_does_not_resend_the_first(tmp_path: Path) -> None:
    clock = FrozenClock(ms(OCT[3], 12))
    with Smtp() as smtp:
        with running(tmp_path / "data", clock, smtp.port) as app:
            _to_80(app)
            wait_for(lambda: len(smtp.received) >= 1, WAIT_S, "the 80 % notice")
        with running(tmp_path / "data", clock, smtp.port) as app:
            app.passes(3)
            assert len(smtp.received) == 1  # remembered in billing.db: not sent again
            clock.set(ms(OCT[4], 12))
            app.read((OCT[4], 1030.5))
            wait_for(lambda: len(smtp.received) >= 2, WAIT_S, "the 100 % notice")
            app.passes()
        assert [ZH_80 in smtp.received[0].body, ZH_100 in smtp.received[1].body] == [True, True]
        assert len(smtp.received) == 2


def test_a_refused_notice_is_retried_and_arrives_once(tmp_path: Path) -> None:
    clock = FrozenClock(ms(OCT[3], 12))
    with Smtp() as smtp, running(tmp_path / "data", clock, smtp.port) as app:
        smtp.failing = True
        _to_80(app)
        wait_for(lambda: smtp.refused >= 1, WAIT_S, "the mail server to refuse the notice")
        app.passes()
        (notice,) = app.allowance()["kinds"][0]["notices"]
        assert (notice["status"], notice["attempts"], notice["sent_at"]) == ("pending", 1, None)
        assert notice["last_error"]
        assert smtp.refused == 1  # not retried before its time (a minute on the app's clock)

        smtp.failing = False
        clock.advance(61)
        wait_for(lambda: len(smtp.received) >= 1, WAIT_S, "the retried notice")
        app.passes()
        clock.advance(3600)
        app.passes()
        assert len(smtp.received) == 1
        assert ZH_80 in smtp.received[0].body
        (notice,) = app.allowance()["kinds"][0]["notices"]
        assert (notice["status"], notice["attempts"], notice["last_error"]) == ("sent", 2, None)


def test_a_notice_still_unsent_when_the_next_threshold_is_reached_gives_way_to_it(tmp_path: Path) -> None:
    clock = FrozenClock(ms(OCT[3], 12))
    with Smtp() as smtp, running(tmp_path / "data", clock, smtp.port) as app:
        smtp.failing = True
        _to_80(app)
        wait_for(lambda: smtp.refused >= 1, WAIT_S, "the mail server to refuse the notice")
        app.read((OCT[3], 1030.5), hour=11)  # before the 80 % notice's retry is due (a minute on)

        def refused_once() -> bool:  # the pass that owes it tries it at once; its retry is then a minute on
            notices = app.allowance()["kinds"][0]["notices"]
            return [(n["threshold"], n["status"]) for n in notices] == [(0.8, "superseded"), (1.0, "pending")] \
                and notices[1]["attempts"] >= 1

        # the clock moves only once that try is recorded: a try still under way would time its retry from the
        # advanced clock, an hour past the wait below
        wait_for(refused_once, WAIT_S, "the 100 % notice owed and refused once")
        smtp.failing = False
        clock.advance(3600)
        wait_for(lambda: len(smtp.received) >= 1, WAIT_S, "the 100 % notice")
        app.passes()
        assert [ZH_100 in m.body for m in smtp.received] == [True]
        notices = app.allowance()["kinds"][0]["notices"]
        assert [(n["threshold"], n["status"]) for n in notices] == [(0.8, "superseded"), (1.0, "sent")]


def test_a_notice_not_sent_before_its_month_ended_is_dropped(tmp_path: Path) -> None:
    clock = FrozenClock(ms(OCT[-1], 23))
    with Smtp() as smtp, running(tmp_path / "data", clock, smtp.port) as app:
        smtp.failing = True
        _to_80(app)
        wait_for(lambda: smtp.refused >= 1, WAIT_S, "the mail server to refuse the notice")
        app.passes()  # that try recorded before the clock moves (else its retry is timed from the advanced clock)
        smtp.failing = False
        clock.advance(3600)  # November 1st, 00:00: "本月" would now be the wrong month
        app.passes()
        assert smtp.received == []
        (notice,) = app.allowance()["kinds"][0]["notices"]
        assert notice["status"] == "failed"
        assert "2026-10 was over" in notice["last_error"]


def test_a_room_past_both_thresholds_at_once_is_told_the_higher_only(tmp_path: Path) -> None:
    clock = FrozenClock(ms(OCT[4], 12))
    with Smtp() as smtp, running(tmp_path / "data", clock, smtp.port) as app:
        app.read(*zip(OCT, [1000.0, 1010.0, 1020.0, 1030.0, 1030.5], strict=False))  # 70 % to 102 % at once
        wait_for(lambda: len(smtp.received) >= 1, WAIT_S, "the 100 % notice")
        app.passes()
        assert len(smtp.received) == 1
        assert ZH_100 in smtp.received[0].body
        notices = app.allowance()["kinds"][0]["notices"]
        assert [(n["threshold"], n["status"]) for n in notices] == [(0.8, "superseded"), (1.0, "sent")]


def test_the_allowance_endpoint_scopes_and_checks_its_input(tmp_path: Path) -> None:
    clock = FrozenClock(ms(OCT[3], 12))
    with Smtp() as smtp, running(tmp_path / "data", clock, smtp.port) as app:
        c = app.client
        assert c.get("/api/v1/payers/nobody/allowance", params={"site": "s"}).status_code == 404
        assert c.get("/api/v1/payers/room-101/allowance", params={"site": "s", "month": "2026-13"}).status_code == 422
        now = c.get("/api/v1/payers/room-102/allowance", params={"site": "s"})
        assert now.status_code == 200, now.text
        assert (now.json()["month"], now.json()["kinds"][0]["used"], now.json()["kinds"][0]["notices"]) == (
            "2026-10", "0.00", [])


# -- the rule, for any month ----------------------------------------------------------------------------
@given(st.lists(st.floats(min_value=0, max_value=3, allow_nan=False), min_size=1, max_size=30),
       st.lists(st.sampled_from([0.5, 0.8, 0.9, 1.0, 1.2]), min_size=1, max_size=4))
def test_each_threshold_is_owed_once_and_sent_in_rising_order(uses: list[float], shares: list[float]) -> None:
    """Whatever the checks see (use only grows in a month), each threshold reached is owed exactly once, the
    ones sent rise, and the last one reached is always sent."""
    known: set[float] = set()
    sent: list[float] = []
    share = 0.0
    for step in uses:
        share += step / 10
        for t, send in decide(share, known, shares):
            assert t not in known
            known.add(t)
            if send:
                sent.append(t)
    reached = [t for t in sorted(set(shares)) if share >= t]
    assert sorted(known) == reached
    assert sent == sorted(sent)
    assert len(set(sent)) == len(sent)
    if reached:
        assert sent[-1] == reached[-1]
