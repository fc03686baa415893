"""The duty roster's roles: who holds the duties the plans give steps to. on_duty is built in and follows the shifts
on the school calendar (a frozen clock walks through hand-overs); every other role is its holders on the roster."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alerts.roster import DutyRoster, load_roster
from campus.calendar import CampusCalendar
from campus.clock import FrozenClock
from campus.errors import ConfigError, NotFound
from tests.emergency.support import CAMPUS, ROSTER
from tests.support.paths import ROOT

TZ = ZoneInfo("Asia/Shanghai")
DUTY = DutyRoster(ROSTER, CampusCalendar(CAMPUS.calendar), TZ)


def at(year: int, month: int, day: int, hour: int) -> int:
    return int(dt.datetime(year, month, day, hour, tzinfo=TZ).timestamp() * 1000)


def test_the_sample_roster_names_its_roles() -> None:
    assert ROSTER.role_names() == {"on_duty", "crew_leader", "canteen_manager", "office_head"}
    assert DUTY.people["zhou"].title == "食堂经理"


def test_roles_are_their_holders_and_on_duty_follows_the_shifts() -> None:
    clock = FrozenClock(at(2026, 9, 22, 10))                     # a Tuesday in term, 10:00
    for role, who in [("crew_leader", ["chen"]), ("canteen_manager", ["zhou"]), ("office_head", ["liu"])]:
        assert [p.id for p in DUTY.holders(role, "zone-north", clock.now_ms())] == who
    walk = [(0, "zone-north", "wang"), (0, "zone-south", "zhao"),
            (7.5 * 3600 - 60, "zone-north", "wang"),            # 17:29, before the hand-over
            (60, "zone-north", "li"),                            # 17:30: the night electrician
            (10 * 3600, "zone-south", "li")]                     # 03:30 on Wednesday: Tuesday's night shift
    for seconds, zone, who in walk:
        clock.advance(seconds)
        assert [p.id for p in DUTY.holders("on_duty", zone, clock.now_ms())] == [who], (clock.now_ms(), zone)
    clock.set(at(2026, 9, 19, 9))                                # Saturday 09:00: the weekend shift
    assert [p.id for p in DUTY.holders("on_duty", "zone-north", clock.now_ms())] == ["sun"]
    assert DUTY.holders("crew_leader", None, clock.now_ms())[0].name == "陈志明"   # roles do not follow shifts


def test_an_unknown_role_is_not_found() -> None:
    with pytest.raises(NotFound, match=r"no role 'crew_lead' on the duty roster; roles: canteen_manager, crew_leader"):
        DUTY.holders("crew_lead", "zone-north", at(2026, 9, 22, 10))


@pytest.mark.parametrize(("old", "new", "error"), [
    ("crew_leader: [chen]", "crew_leader: [chenn]",
     r"role crew_leader names unknown person 'chenn'; add them under people: or use one of: chen, li, liu"),
    ("crew_leader: [chen]", "on_duty: [chen]", r"role 'on_duty' is built in .*give your role another name"),
    ("crew_leader: [chen]", "Crew Leader: [chen]", r"roles\.Crew Leader\.\[key\]: String should match pattern"),
    ("crew_leader: [chen]", "crew_leader: []", r"roles\.crew_leader: List should have at least 1 item"),
])
def test_a_bad_role_is_refused_with_what_to_fix(tmp_path: Path, old: str, new: str, error: str) -> None:
    text = (ROOT / "alerts" / "sample_roster.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "roster.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"roster\.yaml:\d+: .*" + error):
        load_roster(path)


def test_a_roster_without_roles_has_on_duty_only(tmp_path: Path) -> None:
    path = tmp_path / "roster.yaml"
    path.write_text("people: [{id: a, name: A}]\nfallback: [a]\n", encoding="utf-8")
    roster = load_roster(path)
    assert roster.role_names() == {"on_duty"}
    assert [p.id for p in DutyRoster(roster, DUTY.calendar, TZ).holders("on_duty", None, 0)] == ["a"]
