"""The emergency plans file (应急预案): for each kind of trouble, what raises the plan, the steps in order with who
does each and by when, where the valves, breakers and shut-offs are, and whom to call outside.

The plain rules:
- ``[records] plans_file`` is one file for every site, or a directory of ``SITE.yaml`` files, one per site (like
  the duty roster); none given: the sample campus's ``alerts/sample_plans.yaml``.
- A plan matches an alert when (its ``rules`` name the alert's rule, or its ``categories`` hold the alert's
  category) and (no ``severities``, or they hold the alert's severity). The first plan in file order that matches
  wins. A plan with neither rules nor categories is started by a drill or by hand only.
- A step's ``within`` counts from when the alert was raised (or the drill or the run began).
- A site's plans are checked against its campus, rules and roster (``PlanBook``): every rule is one of the rule
  file's or meterwatch's own record alerts; every role is ``on_duty`` or a role of the duty roster; every building is
  the site's; every photo is a JPEG or PNG file (.jpg, .jpeg, .png) of at most 8 MiB inside the plans file's folder,
  named by a relative path. Each mistake is a ConfigError naming the plan, the step or place, the bad value and what
  to use instead.
- The cost is bounded: at most 100 plans, each with 50 steps, 50 places and 20 contacts; every text is bounded.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from difflib import get_close_matches
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from alerts.roster import ON_DUTY
from alerts.rules import RECORD_RULES, Category, RuleFile, Severity
from campus.durations import parse_seconds
from campus.errors import ConfigError, NotFound
from campus.labels import Name
from campus.model import Campus
from campus.yamlfile import load_yaml_model, parse_yaml_model

MAX_PLANS, MAX_STEPS, MAX_PLACES, MAX_CONTACTS = 100, 50, 50, 20
MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_WITHIN_S = 7 * 86400
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
_MAGIC = {".jpg": (b"\xff\xd8\xff",), ".jpeg": (b"\xff\xd8\xff",), ".png": (b"\x89PNG\r\n\x1a\n",)}
_Strict = ConfigDict(extra="forbid", frozen=True)

PlanId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
RoleName = Annotated[str, StringConstraints(min_length=1, max_length=64)]


def _within(value: float) -> float:
    if not 0 < value <= MAX_WITHIN_S:  # NaN fails too
        raise ValueError(f"a time limit is more than 0 and at most {MAX_WITHIN_S // 86400}d, e.g. 15min or 2h; "
                         "leave within: out for a step without one")
    return value


Within = Annotated[float, BeforeValidator(parse_seconds), AfterValidator(_within)]
Drill = Literal["term", "year", "month", "never"]
PlaceKind = Literal["valve", "breaker", "gas_shutoff", "pump", "hydrant", "other"]


class Title(Name):
    """A plan's, a place's or a contact's name, in both languages."""

    zh: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    en: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Words(Name):
    """A step's text or a place's whereabouts, in both languages."""

    zh: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    en: Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class Activation(BaseModel):
    """What raises a plan; all empty: a drill or a person starts it."""

    model_config = _Strict
    rules: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=100, description="alert rule ids")
    categories: list[Category] = Field(default_factory=list, max_length=3)
    severities: list[Severity] = Field(default_factory=list, max_length=4,
                                       description="when given, the alert must also be one of these")

    @property
    def by_hand(self) -> bool:
        return not self.rules and not self.categories

    def matches(self, rule: str, category: str, severity: str) -> bool:
        return ((rule in self.rules or category in self.categories)
                and (not self.severities or severity in self.severities))


class Step(BaseModel):
    model_config = _Strict
    id: PlanId
    text: Words
    role: RoleName = Field(description="on_duty, or a role of the duty roster (roles:)")
    within: Within | None = Field(default=None, description="seconds since the alert was raised; none: no limit")


class Place(BaseModel):
    model_config = _Strict
    what: PlaceKind
    name: Title
    building: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    where: Words
    photo: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(
        default=None, description="relative to the plans file's folder: .jpg, .jpeg or .png, at most 8 MiB")


class Contact(BaseModel):
    model_config = _Strict
    name: Title
    phone: Annotated[str, StringConstraints(pattern=r"^[0-9+][0-9 ()-]{1,31}$")]

    @field_validator("phone", mode="before")
    @classmethod
    def _quoted(cls, value: object) -> object:
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f"write the phone number in quotes, e.g. phone: \"{value}\" (unquoted, YAML reads "
                             "a number, and a leading 0 is lost)")
        return value


class Plan(BaseModel):
    model_config = _Strict
    id: PlanId
    name: Title
    activates: Activation = Activation()
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)
    places: list[Place] = Field(default_factory=list, max_length=MAX_PLACES)
    contacts: list[Contact] = Field(default_factory=list, max_length=MAX_CONTACTS)
    drill: Drill = Field(default="term", description="how often it is drilled")

    @model_validator(mode="after")
    def _steps(self) -> Plan:
        _unique((s.id for s in self.steps), f"plan {self.id}: step id")
        if self.activates.severities and self.activates.by_hand:
            raise ValueError(f"plan {self.id}: severities without rules or categories never match an alert; add "
                             "rules: or categories:, or leave activates: empty for a plan started by drills only")
        return self


class PlanFile(BaseModel):
    model_config = _Strict
    plans: list[Plan] = Field(default_factory=list, max_length=MAX_PLANS)

    @model_validator(mode="after")
    def _ids(self) -> PlanFile:
        _unique((p.id for p in self.plans), "plan id")
        return self


def _unique(ids: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ValueError(f"{what} {i!r} is used twice; give each its own")
        seen.add(i)


def _choices(valid: Collection[str], given: str) -> str:
    """``use one of: …`` for a value not among ``valid``, and the nearest when one is close."""
    near = get_close_matches(given, list(valid), n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    return f"use one of: {', '.join(sorted(valid)) or '(none)'}{hint}"


def known_rules(rules: RuleFile) -> frozenset[str]:
    """The rule ids a plan may name: the rule file's (enabled or not) and meterwatch's own record alerts."""
    return frozenset({r.id for r in rules.rules} | set(RECORD_RULES))


class PlanBook:
    """One site's plans, checked against its campus, rules and roster."""

    def __init__(self, file: PlanFile, campus: Campus, rule_ids: Collection[str], roles: Collection[str],
                 base: Path | None) -> None:
        self.file, self.base = file, base
        buildings = {b.id for b in campus.buildings}
        roles = {ON_DUTY, *roles}
        for plan in file.plans:
            for rule in plan.activates.rules:
                if rule not in rule_ids:
                    raise ConfigError(f"plan {plan.id}: unknown rule {rule!r}; {_choices(rule_ids, rule)}")
            for n, step in enumerate(plan.steps, 1):
                if step.role not in roles:
                    raise ConfigError(f"plan {plan.id}, step {n} ({step.id}): unknown role {step.role!r}; "
                                      f"{_choices(roles, step.role)}, or add it under roles: in the duty roster")
            for n, place in enumerate(plan.places, 1):
                if place.building not in buildings:
                    raise ConfigError(f"plan {plan.id}, place {n}: unknown building "
                                      f"{place.building!r}; {_choices(buildings, place.building)}")
                if place.photo is not None:
                    self._check_photo(f"plan {plan.id}, place {n}", place.photo)
        self.plans: dict[str, Plan] = {p.id: p for p in file.plans}

    def _resolve(self, where: str, photo: str) -> Path:
        """The photo's path, refused unless it is a relative path that stays inside the plans file's folder."""
        if self.base is None:
            raise ConfigError(f"{where}: photo {photo!r} needs the plans file's folder; load the plans from a file")
        parts = PurePosixPath(photo.replace("\\", "/"))
        if parts.is_absolute() or ":" in photo or ".." in parts.parts or "\x00" in photo:
            raise ConfigError(f"{where}: photo {photo!r} must be a path inside the plans file's folder, e.g. "
                              "photos/valve.jpg (no absolute path, no ..)")
        try:
            base = self.base.resolve()
            path = (base / parts).resolve()
        except (OSError, ValueError) as exc:  # a name the file system cannot hold (too long, not encodable)
            raise ConfigError(f"{where}: photo {photo!r} is not a file name this system can read; rename it") from exc
        if not path.is_relative_to(base):
            raise ConfigError(f"{where}: photo {photo!r} leads outside the plans file's folder {base}; put the "
                              "photo inside it")
        return path

    def _check_photo(self, where: str, photo: str) -> None:
        path = self._resolve(where, photo)
        suffix = path.suffix.lower()
        if suffix not in PHOTO_SUFFIXES:
            raise ConfigError(f"{where}: photo {photo!r} must be a JPEG or PNG picture: use one of: "
                              f"{', '.join(PHOTO_SUFFIXES)}")
        try:
            if not path.is_file():
                raise ConfigError(f"{where}: photo {photo!r} is not there ({path}); put it there or correct the path")
            size = path.stat().st_size
            if size > MAX_PHOTO_BYTES:
                raise ConfigError(f"{where}: photo {photo!r} is {size / 1024 / 1024:.1f} MiB; make it at most "
                                  f"{MAX_PHOTO_BYTES // 1024 // 1024} MiB (e.g. 1600 px wide)")
            with path.open("rb") as f:
                head = f.read(8)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{where}: cannot read photo {photo!r}: {getattr(exc, 'strerror', None) or exc}") from exc
        if not head.startswith(_MAGIC[suffix]):
            raise ConfigError(f"{where}: photo {photo!r} is not a {suffix[1:].upper()} picture; save it as one")

    def for_alert(self, rule: str, category: str, severity: str) -> Plan | None:
        """The first plan, in file order, that the alert raises; None when none does."""
        return next((p for p in self.file.plans if p.activates.matches(rule, category, severity)), None)

    def photo(self, plan: str, place: int) -> Path:
        """The photo of a plan's place (``place``: its index in ``places``, from 0). NotFound if none."""
        found = self.plans.get(plan)
        if found is None:
            raise NotFound(f"no plan {plan!r}")
        if not 0 <= place < len(found.places) or found.places[place].photo is None:
            raise NotFound(f"plan {plan}: no photo for place {place + 1}")
        try:
            path = self._resolve(f"plan {plan}, place {place + 1}", str(found.places[place].photo))
            if path.is_file():
                return path
        except (ConfigError, OSError, ValueError):
            pass
        raise NotFound(f"plan {plan}: the photo of place {place + 1} is gone")


def sample_plans_file() -> Path:
    return Path(__file__).parent / "sample_plans.yaml"


def parse_plans(text: str, source: str = "plans file") -> PlanFile:
    """A plans file's text; ConfigError ``source:line: field: reason`` when it is not one."""
    return parse_yaml_model(text, PlanFile, source)


def load_plans(path: Path | None) -> dict[str | None, PlanFile]:
    """The plans: one file for every site (key None), or a directory of ``SITE.yaml`` files, one per site; None:
    the sample campus's file."""
    if path is not None and path.is_dir():
        return {f.stem: load_yaml_model(f, PlanFile, "plans file") for f in sorted(path.iterdir())
                if f.suffix in (".yaml", ".yml") and f.is_file()}
    return {None: load_yaml_model(path or sample_plans_file(), PlanFile, "plans file")}


def plans_folder(path: Path | None) -> Path:
    """The folder a plans file's photos are named from: the directory of SITE.yaml files, or the file's own."""
    if path is None:
        return sample_plans_file().parent
    return path if path.is_dir() else path.parent


def plans_of(files: dict[str | None, PlanFile], site: str) -> PlanFile:
    """A site's plans: its own file, else the one for every site, else none."""
    return files.get(site) or files.get(None) or PlanFile()
