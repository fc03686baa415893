"""Schedules on the school and Chinese public-holiday calendar, the duty roster's shifts and
hand-overs, and rule/roster files refused with file, line and reason."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alerts.roster import DutyRoster, load_roster
from alerts.rules import load_rules
from alerts.schedule import Schedule
from campus.calendar import CampusCalendar
from campus.errors import ConfigError
from campus.model import load_campus
from tests.support.drive import roster_text
from tests.support.paths import SAMPLE

TZ = ZoneInfo("Asia/Shanghai")
CAL = CampusCalendar(load_campus(SAMPLE).calendar)


def ms(y: int, m: int, d: int, h: int, mi: int = 0) -> int:
    return int(datetime(y, m, d, h, mi, tzinfo=TZ).timestamp() * 1000)


def test_day_tags_follow_holidays_make_up_days_and_terms() -> None:
    assert {"sun", "workday", "term", "school_day"} <= CAL.tags(date(2026, 9, 20))  # 调休: a Sunday of work
    assert {"thu", "holiday", "offday"} <= CAL.tags(date(2026, 10, 1))              # National Day
    assert "school_day" not in CAL.tags(date(2026, 10, 1))
    assert {"sat", "workday"} <= CAL.tags(date(2026, 10, 10))                       # make-up Saturday
    assert {"vacation", "offday", "weekend"} <= CAL.tags(date(2026, 8, 1))          # summer vacation
    assert "holiday" not in CAL.tags(date(2026, 9, 19))                             # a plain Saturday


def test_schedule_hours_days_and_exceptions() -> None:
    teaching = Schedule.model_validate({"hours": ["06:30-22:30"], "except": ["holiday", "vacation"]})
    assert teaching.contains(datetime(2026, 9, 20, 10, tzinfo=TZ), CAL)
    assert not teaching.contains(datetime(2026, 9, 21, 22, 45, tzinfo=TZ), CAL)
    assert not teaching.contains(datetime(2026, 10, 2, 10, tzinfo=TZ), CAL)
    night = Schedule(hours=["22:00-06:00"], days=["workday"])
    assert night.contains(datetime(2026, 9, 22, 23, tzinfo=TZ), CAL)
    assert night.contains(datetime(2026, 9, 22, 5, 59, tzinfo=TZ), CAL)
    assert not night.contains(datetime(2026, 9, 22, 6, tzinfo=TZ), CAL)
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        Schedule(hours=["7-9"])
    with pytest.raises(ValueError, match="unknown day"):
        Schedule(days=["someday"])


@pytest.fixture
def roster(tmp_path: Path) -> DutyRoster:
    path = tmp_path / "roster.yaml"
    path.write_text(roster_text(1, 2), encoding="utf-8")
    return DutyRoster(load_roster(path), CAL, TZ)


@pytest.mark.parametrize(("when", "zone", "who"), [
    ((2026, 9, 22, 10), "zone-north", ["wang"]),     # Tuesday day shift, north
    ((2026, 9, 22, 10), "zone-south", ["zhao"]),     # … south
    ((2026, 9, 22, 17, 29), "zone-north", ["wang"]),  # one minute before the hand-over
    ((2026, 9, 22, 17, 30), "zone-north", ["li"]),   # hand-over to the night electrician
    ((2026, 9, 23, 3), "zone-south", ["li"]),        # the night shift that began on Tuesday
    ((2026, 9, 20, 10), "zone-north", ["wang"]),     # Sunday, but a make-up workday (调休)
    ((2026, 9, 19, 7), "zone-north", ["li"]),        # Saturday before 08:00: Friday's night shift
    ((2026, 9, 19, 8), "zone-north", ["sun"]),       # … handed over to the weekend shift
    ((2026, 10, 1, 3), "zone-north", ["li"]),        # National Day, small hours: 30 Sept was a workday
    ((2026, 10, 1, 9), "zone-south", ["sun"]),       # National Day
])
def test_who_is_on_duty(roster: DutyRoster, when: tuple[int, ...], zone: str, who: list[str]) -> None:
    assert [p.id for p in roster.on_duty(zone, ms(*when))] == who


def test_fallback_and_routes(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    text = roster_text(1, 2).replace('days: [offday], hours: "08:00-08:00"', 'days: [mon], hours: "08:00-09:00"')
    path.write_text(text, encoding="utf-8")
    r = DutyRoster(load_roster(path), CAL, TZ)
    assert [p.id for p in r.on_duty("zone-north", ms(2026, 10, 1, 12))] == ["chen"]  # nobody: the fallback
    assert r.route(None, "safety", "critical", "zone-north", None).id == "critical"
    assert r.route(None, "energy", "minor", "zone-north", None).id == "default"
    assert r.urls(r.people["li"])[0][1].endswith("to=li@yucai.edu.cn&mode=insecure")


def test_a_bad_roster_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "roster.yaml"
    path.write_text(roster_text(1, 2).replace("people: [li]", "people: [lee]"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"roster.yaml:\d+: .*unknown person 'lee'"):
        load_roster(path)


BAD_RULES = [
    ("    condition: {type: threshold, field: ph, outside: [6.5, 8.5], clear_margin: 0.1}",
     "    condition: {type: thresold, field: ph}",
     r"default_rules.yaml:{line}: rules.0.condition: .*unknown condition"),
    ("    severity: major\n", "    severity: huge\n", r"default_rules.yaml:{line}: rules.0.severity: Input should be"),
    ("open: canteen_open", "open: canteen_hours", r"schedule 'canteen_hours' is not defined"),
    ("    count: 2              # two", "    count: 0              # two", r":\d+: rules.0.count: .*greater than"),
    # the first `for: 30min` is hot-water-storage-cold's, the 9th rule since the four purified-* rules came before it
    ("    for: 30min", "    for: half an hour", r":\d+: rules.8.for: .*not a duration"),
]


@pytest.mark.parametrize(("old", "new", "error"), BAD_RULES)
def test_a_bad_rule_file_is_refused_with_file_line_and_reason(tmp_path: Path, old: str, new: str,
                                                               error: str) -> None:
    text = (Path(__file__).resolve().parents[2] / "alerts" / "default_rules.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "default_rules.yaml"
    text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    line = text[: text.index(new)].count("\n") + 1
    with pytest.raises(ConfigError, match=error.replace("{line}", str(line))):
        load_rules(path)


def test_the_default_rules_load() -> None:
    rules = load_rules()
    assert {r.category for r in rules.rules} == {"energy", "safety", "data"}
    assert all(r.name.zh and r.name.en for r in rules.rules)
