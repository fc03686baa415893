"""The monthly bulletin (通报): each department with a target, and each building with its own, told its month.

Rewards and penalties depend on it, so every line says the same things: the month's use of one energy
against its target (%), against the same month last year, per person and per m², and its rank among
its peers. Departments are ranked among departments; a building among the buildings of its department
(the three canteens among the canteens). The rank is by use against target, lowest first: a fair
order between a large and a small canteen. The figures are the monthly report's (the same rules).

Where a billing file gives incentives (奖罚), the bulletin also lists the month's result of each: who, the
energy, its use against its target and dead band, and the reward or penalty in 元 (``incentives``; filled by
the app, which knows billing: reports do not). Without a billing file the section is absent (None).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from campus.contract import Kind
from campus.model import Campus
from reports.config import ReportSettings
from reports.energy import ENERGY_KINDS, GAP_HELP, EnergyReport, Gap, Row, compare, dept_name

FIELD = {Kind.ELECTRICITY: "electricity_kwh", Kind.WATER: "water_m3", Kind.GAS: "gas_m3"}
UNITS = {Kind.ELECTRICITY: "kWh", Kind.WATER: "m³", Kind.GAS: "m³"}


class BulletinLine(BaseModel):
    scope: Literal["department", "building"]
    id: str
    name: str
    peers: str = Field(description="who it is ranked among: 'departments', or a department's id")
    peers_name: str
    kind: Kind
    unit: str
    target: float
    use: float
    pct: float = Field(description="use ÷ target, %")
    over: bool
    coverage: float = Field(default=1.0, description="this month's coverage (readings received ÷ expected)")
    last_year: float | None = Field(description="null: no reading at all in the same month last year")
    last_year_coverage: float = Field(default=1.0)
    yoy_pct: float | None = Field(description="null: not comparable, see yoy_gap")
    yoy_gap: Gap | None = Field(default=None, description=GAP_HELP)
    per_person: float | None = Field(description="null: a plant room or no occupants")
    per_m2: float | None
    rank: int = Field(description="among its peers by use against target, 1 = lowest")
    of: int = Field(description="how many peers")


class IncentiveRow(BaseModel):
    """One incentive's month (奖罚): a reward (negative amount: taken off what is owed) or a penalty."""

    who: str = Field(description="the payer's or the building's name")
    scope: Literal["payer", "building"]
    kind: Kind
    unit: str
    use: Decimal = Field(description="the month's use, kWh or m³, to 0.01")
    target: Decimal
    dead_band: float = Field(description="a share of the target either side of it: nothing is paid within")
    dead_band_low: Decimal
    dead_band_high: Decimal
    units: Decimal = Field(description="saved (negative) or over (positive) beyond the dead band; 0 inside it")
    outcome: Literal["reward", "penalty", "none"]
    amount: Decimal = Field(description="元, to the fen: negative a reward, positive a penalty")
    capped: bool = False
    coverage: float = Field(default=1.0, description="readings received ÷ expected over its meters this month")
    gap: Literal["unfinished", "incomplete"] | None = Field(default=None, description="why no reward is paid (yet): "
                                                            "the month is not over, or its data is incomplete")


class Bulletin(BaseModel):
    site: str
    site_name: str
    month: str
    language: str
    generated_at: datetime
    lines: list[BulletinLine]
    incentives: list[IncentiveRow] | None = Field(default=None, description="the month's rewards and penalties "
                                                  "(奖罚); null: no billing file, so none are set")


def build_bulletin(campus: Campus, now: EnergyReport, last_year: EnergyReport,
                   settings: ReportSettings | None = None) -> Bulletin:
    """From the month's report and the same month's a year before (compared as ``reports.energy.compare`` says)."""
    settings = settings or ReportSettings()
    over = now.period_end <= now.generated_at
    zh = now.language.startswith("zh")
    before = {r.id: r for r in [*last_year.departments, *last_year.buildings]}
    lines: list[BulletinLine] = []

    def line(scope: Literal["department", "building"], row: Row, kind: Kind, target: float, peers: str,
             peers_name: str) -> BulletinLine:
        use = getattr(row.figures, FIELD[kind])
        old = before.get(row.id)
        old_cov = old.coverage if old is not None else 0.0
        last = getattr(old.figures, FIELD[kind]) if old is not None and old_cov > 0 else None
        yoy, gap = compare(use, row.coverage, last, old_cov, settings, over=over)
        return BulletinLine(scope=scope, id=row.id, name=row.name, peers=peers, peers_name=peers_name, kind=kind,
                            unit=UNITS[kind], target=target, use=use, pct=use / target * 100, over=use > target,
                            coverage=row.coverage, last_year=last, last_year_coverage=old_cov, yoy_pct=yoy,
                            yoy_gap=gap, per_person=use / row.occupants if row.per_person else None,
                            per_m2=use / row.floor_area_m2 if row.floor_area_m2 else None, rank=0, of=0)

    departments = {r.id: r for r in now.departments}
    for dept, by_kind in campus.targets.items():
        row = departments.get(dept.value)
        for kind, target in by_kind.items():
            if row is not None and kind in ENERGY_KINDS and target > 0:
                lines.append(line("department", row, kind, target, "departments", "各部门" if zh else "departments"))
    buildings = {r.id: r for r in now.buildings}
    for b in campus.buildings:
        row = buildings.get(b.id)
        for kind, target in b.targets.items():
            if row is not None and kind in ENERGY_KINDS:
                lines.append(line("building", row, kind, target, b.department.value,
                                  dept_name(b.department.value, zh)))
    ranked: list[BulletinLine] = []
    groups: dict[tuple[str, str], list[BulletinLine]] = {}
    for x in lines:
        groups.setdefault((x.peers, x.kind.value), []).append(x)
    for x in lines:
        peers = sorted(groups[(x.peers, x.kind.value)], key=lambda p: (p.pct, p.id))
        ranked.append(x.model_copy(update={"rank": peers.index(x) + 1, "of": len(peers)}))
    return Bulletin(site=now.site, site_name=now.site_name, month=now.month, language=now.language,
                    generated_at=now.generated_at, lines=ranked)


def previous_year_month(month: str) -> str:
    year, mon = (int(x) for x in month.split("-"))
    return f"{year - 1:04d}-{mon:02d}"
