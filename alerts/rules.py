"""The rule file: named schedules and rules. ``load_rules`` refuses a bad file with file, line and reason."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from alerts.conditions import CONDITIONS, Condition
from alerts.schedule import Schedule
from campus.contract import Identifier, Kind
from campus.durations import Seconds
from campus.labels import Name
from campus.model import Campus, Department, Device
from campus.yamlfile import load_yaml_model


class Category(StrEnum):
    ENERGY = "energy"
    SAFETY = "safety"
    DATA = "data"


class Severity(StrEnum):
    WARNING = "warning"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


_Strict = ConfigDict(extra="forbid", frozen=True)


class Target(BaseModel):
    """Which devices a rule watches; every list given must contain the device's value."""

    model_config = _Strict
    kinds: list[Kind] = Field(default_factory=list)
    buildings: list[str] = Field(default_factory=list)
    departments: list[Department] = Field(default_factory=list)
    zones: list[str] = Field(default_factory=list)
    devices: list[str] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=list)

    def matches(self, device: Device, department: str) -> bool:
        return ((not self.kinds or device.kind in self.kinds)
                and (not self.buildings or device.building in self.buildings)
                and (not self.departments or department in self.departments)
                and (not self.zones or device.zone in self.zones)
                and (not self.devices or device.id in self.devices)
                and (not self.roles or device.role in self.roles))


class Clear(BaseModel):
    model_config = _Strict
    for_: Seconds = Field(default=0, alias="for", description="the condition must be clear this long")


class SeverityRise(BaseModel):
    model_config = _Strict
    after: Seconds
    severity: Severity


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    id: Identifier
    name: Name
    category: Category
    severity: Severity
    target: Target = Target()
    condition: Condition
    for_: Seconds = Field(default=0, alias="for", description="the condition must hold this long")
    count: int = Field(default=1, ge=1, description="…and for this many consecutive readings")
    schedule: str | Schedule | None = Field(default=None, description="evaluate only within this schedule")
    clear: Clear = Clear()
    rise: SeverityRise | None = Field(default=None, description="raise the severity if still active after")
    route: str | None = Field(default=None, description="a route of the roster; default: the first that matches")
    enabled: bool = True
    note: str = ""

    @field_validator("condition", mode="before")
    @classmethod
    def _condition(cls, value: Any) -> Condition:
        if isinstance(value, Condition):
            return value
        if not isinstance(value, dict) or "type" not in value:
            raise ValueError(f"condition needs a type: one of {', '.join(CONDITIONS)}")
        kind = CONDITIONS.get(value["type"])
        if kind is None:
            raise ValueError(f"unknown condition type {value['type']!r}; choose from {', '.join(CONDITIONS)}")
        try:
            return kind.model_validate(value)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ValueError(f"{value['type']}{': ' + where if where else ''}: {err['msg']}") from None

    @property
    def for_ms(self) -> int:
        return int(self.for_ * 1000)


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    schedules: dict[str, Schedule] = Field(default_factory=dict)
    rules: list[Rule]

    @model_validator(mode="after")
    def _refs(self) -> RuleFile:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
            names = rule.condition.schedule_names() + ([rule.schedule] if isinstance(rule.schedule, str) else [])
            for ref in names:
                if ref not in self.schedules:
                    raise ValueError(f"rule {rule.id!r}: schedule {ref!r} is not defined under schedules:")
        return self


def default_rules_file() -> Path:
    return Path(__file__).parent / "default_rules.yaml"


def load_rules(path: Path | None = None) -> RuleFile:
    return load_yaml_model(path or default_rules_file(), RuleFile, "rule file")


class RuleBook:
    """The enabled rules indexed by device, for one campus."""

    def __init__(self, rules: RuleFile, campus: Campus) -> None:
        self.file, self.campus = rules, campus
        self.rules = {r.id: r for r in rules.rules if r.enabled}
        depts = {b.id: b.department.value for b in campus.buildings}
        self.department = {d.id: depts[d.building] for d in campus.devices}
        self.devices = {d.id: d for d in campus.devices}
        self.by_device: dict[str, list[Rule]] = {
            d.id: [r for r in self.rules.values() if r.target.matches(d, depts[d.building])]
            if d.virtual is None else [] for d in campus.devices}  # a virtual meter has no readings to watch
        self.clocked = [r for r in self.rules.values() if r.condition.watches_clock]

    def file_rule(self, rule_id: str) -> Rule | None:
        """A rule by id, enabled or not (alerts outlive edits to the file)."""
        return next((r for r in self.file.rules if r.id == rule_id), None)

    def rule_name(self, rule_id: str, language: str) -> str:
        """The name of a rule of the file, or of one of meterwatch's own record alerts; else the id."""
        rule = self.file_rule(rule_id)
        if rule is not None:
            return rule.name.text(language)
        own = RECORD_RULES.get(rule_id)
        return own.name.text(language) if own is not None else rule_id


class RecordRule(BaseModel):
    """An alert that records raise rather than readings: not in the rule file, routed like any other."""

    model_config = _Strict
    name: Name
    category: Category
    severity: Severity


RECORD_RULES: dict[str, RecordRule] = {
    "round-overdue": RecordRule(name=Name(zh="巡查/检查未按时完成", en="Check round overdue"),
                                category=Category.DATA, severity=Severity.MINOR),
    "reading-overdue": RecordRule(name=Name(zh="月度抄表未按时完成", en="Monthly meter reading overdue"),
                                  category=Category.DATA, severity=Severity.MINOR),
    "water-test-overdue": RecordRule(name=Name(zh="水质检测或滤芯更换逾期", en="Water test or filter change overdue"),
                                     category=Category.DATA, severity=Severity.MINOR),
    "water-test-limit": RecordRule(name=Name(zh="水质检测结果超出限值", en="Water test result outside its limit"),
                                   category=Category.SAFETY, severity=Severity.MAJOR),
    "sensor-drift": RecordRule(name=Name(zh="水质传感器与化验结果不符(疑似漂移)",
                                         en="Water sensor disagrees with the laboratory (drift)"),
                               category=Category.DATA, severity=Severity.MINOR),
    "bill-gap": RecordRule(name=Name(zh="供应商账单与进线表不符", en="Supplier's bill differs from the incomer meter"),
                           category=Category.DATA, severity=Severity.MINOR),
    "emergency": RecordRule(name=Name(zh="应急预案启动", en="Emergency plan started"),
                            category=Category.SAFETY, severity=Severity.MAJOR),
    "drill-overdue": RecordRule(name=Name(zh="应急演练逾期未开展", en="Emergency drill overdue"),
                                category=Category.DATA, severity=Severity.MINOR),
    "water-balance": RecordRule(name=Name(zh="水平衡漏失超限", en="Water balance: loss beyond its limit"),
                                category=Category.DATA, severity=Severity.MINOR),
}
