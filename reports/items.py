"""Sub-item energy (分项能耗): each building's use of a kind split by energy item, and what nobody itemised (未分项).

The rule, for one kind (electricity, water or gas) over any buckets:

- A building's use is its main meters' use, as everywhere in meterwatch: meters without ``parent`` that are not the
  site's incomer. Sub-meters (``parent:``) hang under a main meter, possibly in chains (a sub-meter of a
  sub-meter); each belongs to the building of the main meter at the top of its chain.
- Each meter's *own share* is its use minus its direct sub-meters' use: what it measured that none of its
  sub-meters did. Down a chain the shares add up to the main meter's use, so a building's shares add up to its use,
  and item totals plus 未分项 equal the building, exactly.
- A share counts under the meter's item: its ``item:``, else its parent meter's, else the default
  (``Campus.items_of``: electricity 01000, a canteen's electricity 01D20, water 02000, gas 03A00). A meter
  that names shares of items (``01A00 60%, 01B00 40%``) puts those parts of its own share under each. A share
  under a kind's top code that the table splits further (01000 电, 03000 燃气) is 未分项 (unitemised). So a main
  meter at 01000 gives 未分项 = main − Σ its itemised sub-meters; a main meter that names a specific item (or a
  canteen's, 01D20 by default) counts wholly under it, less what its sub-meters count under theirs; water, which
  the table does not split, counts under 02000.
- A share may be negative: the sub-meters read more than the meter above them (a wrong multiplier, a sub-meter
  wired outside its parent, readings missing on the parent). It is shown as it is, never hidden or clipped, and
  :attr:`ItemSplit.negative` names the meter and by how much.
- Only the meters given take part: a sub-meter whose main meter is not among them counts nowhere (its use is the
  main meter's), and a main meter without its sub-meters counts whole.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from campus.contract import Kind
from campus.items import UNITEMISED, energy_items, item_name, items_of, splits_further
from campus.model import Campus, Device


@dataclass(frozen=True, slots=True)
class Negative:
    """A meter whose sub-meters read more than it did in a bucket: its own share is ``amount`` (< 0)."""

    meter: str
    building: str
    bucket: int
    amount: float


@dataclass(slots=True)
class ItemSplit:
    """One kind's use per building and item key (a code, or :data:`UNITEMISED`), per bucket."""

    kind: Kind
    buckets: int
    use: dict[str, dict[str, list[float]]] = field(default_factory=dict)      # building → key → per bucket
    meters: dict[str, dict[str, list[str]]] = field(default_factory=dict)     # building → key → meters sharing
    negative: list[Negative] = field(default_factory=list)

    def building(self, building: str) -> dict[str, list[float]]:
        """The building's use per item key, in the table's order, 未分项 last."""
        return dict(sorted(self.use.get(building, {}).items(), key=lambda kv: order(kv[0])))

    def total(self, building: str, bucket: int) -> float:
        return sum(v[bucket] for v in self.use.get(building, {}).values())

    def by_item(self) -> dict[str, list[float]]:
        """Every building's added up, per item key (table order, 未分项 last)."""
        out: dict[str, list[float]] = {}
        for per_key in self.use.values():
            for key, values in per_key.items():
                acc = out.setdefault(key, [0.0] * self.buckets)
                for i, v in enumerate(values):
                    acc[i] += v
        return dict(sorted(out.items(), key=lambda kv: order(kv[0])))

    def meters_of(self, key: str) -> list[str]:
        """Meters whose share is under ``key``, in any building."""
        return [m for per_key in self.meters.values() for m in per_key.get(key, [])]


def order(key: str) -> int:
    """Where an item key sits in tables: the table's order, 未分项 after every code."""
    codes = list(energy_items())
    return codes.index(key) if key in codes else len(codes)


def share_keys(campus: Campus, device: Device) -> dict[str, float]:
    """The item keys a meter's own share counts under, with the part under each: its item (1.0), or its items'
    shares (``01A00 60%, 01B00 40%``); a top code split further counts as 未分项."""
    out: dict[str, float] = {}
    for code, frac in (campus.items_of(device) or {UNITEMISED: 1.0}).items():
        key = UNITEMISED if splits_further(code) else code
        out[key] = out.get(key, 0.0) + frac
    return out


def split(campus: Campus, kind: Kind, uses: Mapping[str, Sequence[float]]) -> ItemSplit:
    """Split ``uses`` (meter id → use per bucket, for meters of ``kind``) by building and item: see the module's
    rule. Meters not in ``uses`` take no part."""
    n = len(next(iter(uses.values()))) if uses else 0
    out = ItemSplit(kind, n)
    devices = [d for d in campus.devices if d.kind is kind and d.id in uses]
    children: dict[str, list[Device]] = defaultdict(list)
    for d in devices:
        if d.parent is not None:
            children[d.parent].append(d)
    for main in devices:
        if not main.counts_in_totals:
            continue
        seen: set[str] = set()
        stack = [main]
        while stack:
            meter = stack.pop()
            if meter.id in seen:  # a parent loop in a hand-written file: each meter once
                continue
            seen.add(meter.id)
            below = [c for c in children.get(meter.id, []) if c.id not in seen]
            own = [uses[meter.id][i] - sum(uses[c.id][i] for c in below) for i in range(n)]
            for key, frac in share_keys(campus, meter).items():
                acc = out.use.setdefault(main.building, {}).setdefault(key, [0.0] * n)
                for i, v in enumerate(own):
                    acc[i] += v * frac
                out.meters.setdefault(main.building, {}).setdefault(key, []).append(meter.id)
            out.negative += [Negative(meter.id, main.building, i, v) for i, v in enumerate(own)
                             if v < -1e-9 and below]
            stack.extend(below)
    return out


# -- the monthly report's sub-item table (分项能耗表) ---------------------------------------------------------------
class ItemUse(BaseModel):
    item: str = Field(description="the item code, or 'unitemised' (未分项)", examples=["01A00"])
    name: str = Field(examples=["照明插座用电"])
    value: float = Field(description="kWh or m³ this month; 未分项 may be negative (sub-meters read more)")


class BuildingItems(BaseModel):
    """One building's (or the site's) use of one kind this month, by item: items + 未分项 = total."""

    building: str = Field(description="a building's id, or the site's for the whole site")
    building_name: str
    code: str | None = Field(default=None, description="the building code (建筑识别编码), if given")
    kind: Kind
    unit: str
    items: list[ItemUse] = Field(description="each item with use, in the table's order; 未分项 last, shown even "
                                 "when zero for a kind the table splits (electricity, gas)")
    unitemised: float = Field(description="未分项: the main meters less their itemised sub-meters")
    total: float = Field(description="the building's use of the kind (its main meters), = Σ items")
    negative: list[str] = Field(default_factory=list, description="meters whose sub-meters read more than they "
                                "did this month (names): their share is negative")


UNITS = {Kind.ELECTRICITY: "kWh", Kind.WATER: "m³", Kind.GAS: "m³"}


def item_rows(campus: Campus, parts: list[ItemSplit], bucket: int, language: str) -> list[BuildingItems]:
    """The sub-item table for ``bucket`` of each kind's split: every building with meters of the kind, then the
    site's total per kind."""
    names = {d.id: d.name or d.id for d in campus.devices}
    out: list[BuildingItems] = []
    for b in campus.buildings:
        for part in parts:
            if b.id in part.use:
                per_key = {k: v[bucket] for k, v in part.building(b.id).items()}
                low = [names[n.meter] for n in part.negative if n.building == b.id and n.bucket == bucket]
                out.append(_row(b.id, b.name, b.code, part.kind, per_key, low, language))
    for part in parts:
        if part.use:
            per_key = {k: v[bucket] for k, v in part.by_item().items()}
            low = [names[n.meter] for n in part.negative if n.bucket == bucket]
            out.append(_row(campus.site.id, campus.site.name, None, part.kind, per_key, low, language))
    return out


def _row(id_: str, name: str, code: str | None, kind: Kind, per_key: dict[str, float], low: list[str],
         language: str) -> BuildingItems:
    top = next((i.code for i in items_of(kind) if i.parent is None), None)
    if top is not None and splits_further(top):
        per_key.setdefault(UNITEMISED, 0.0)  # 未分项 is shown, never hidden
    items = [ItemUse(item=k, name=item_name(k, language), value=v) for k, v in per_key.items()]
    return BuildingItems(building=id_, building_name=name, code=code, kind=kind, unit=UNITS[kind], items=items,
                         unitemised=per_key.get(UNITEMISED, 0.0), total=sum(per_key.values()),
                         negative=list(dict.fromkeys(low)))
