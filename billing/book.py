"""One site's billing checked against its campus: who owns which meter, and at what share.

Rules, written down plainly:

1. A payer owns the meters it lists and the main meters (not sub-meters, not the incomer) of the buildings it
   lists, of the kinds it has a tariff for.
2. A meter belongs to one payer, or is shared (``shared:``) by ratio, by floor area or by occupants; a payer's
   area and occupants default to those of its buildings.
3. A payer that owns a meter does not pay again for that meter's sub-meters billed to someone else: their use
   is taken off its own, quarter hour by quarter hour, before pricing (``less``).
4. The incomer's remainder (its use less the site's main meters: losses and unmetered public use) is kept by
   the school, or allocated to the payers with a tariff of that kind by their use, area or occupants.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from billing.config import Payer, SiteBilling
from billing.tariffs import Tariff, TariffKind
from campus.contract import Kind
from campus.errors import ConfigError, NotFound
from campus.model import Campus, Device


@dataclass(frozen=True, slots=True)
class Holding:
    """A payer's hold on one meter: whole (share 1) or a share of a shared meter."""

    device: Device
    share: float = 1.0
    via: str = "meter"          # meter | building | shared
    less: tuple[Device, ...] = ()  # sub-meters billed to others, taken off


@dataclass(slots=True)
class Book:
    campus: Campus
    billing: SiteBilling
    tariffs: dict[str, Tariff]
    payers: dict[str, Payer]
    holdings: dict[str, list[Holding]] = field(default_factory=dict)
    area: dict[str, float] = field(default_factory=dict)       # payer → m² (its own figure or its buildings')
    people: dict[str, float] = field(default_factory=dict)     # payer → occupants

    @classmethod
    def build(cls, campus: Campus, billing: SiteBilling) -> Book:
        devices = {d.id: d for d in campus.devices}
        buildings = {b.id: b for b in campus.buildings}
        where = f"billing file, site {campus.site.id}"

        def meter(mid: str, who: str) -> Device:
            d = devices.get(mid)
            if d is None:
                raise ConfigError(f"{where}: {who} names meter {mid}, which the campus does not have")
            if d.kind not in (Kind.ELECTRICITY, Kind.WATER, Kind.GAS):
                raise ConfigError(f"{where}: {who} names {mid}, a {d.kind.value} sensor, not a meter")
            return d

        book = cls(campus, billing, billing.tariff_map(), {p.id: p for p in billing.payers})
        owner: dict[str, str] = {}
        for p in billing.payers:
            held: list[Holding] = []
            for mid in p.meters:
                d = meter(mid, f"payer {p.id}")
                if TariffKind(d.kind.value) not in p.tariffs:
                    raise ConfigError(f"{where}: payer {p.id} owns {mid} ({d.kind.value}) but has no "
                                      f"{d.kind.value} tariff: add tariffs: {{{d.kind.value}: …}}")
                held.append(Holding(d))
                owner[mid] = p.id
            for bid in p.buildings:
                if bid not in buildings:
                    raise ConfigError(f"{where}: payer {p.id} names building {bid}, which the campus does not have")
                for d in campus.devices:
                    if (d.building == bid and d.counts_in_totals and TariffKind.__members__.get(d.kind.name)
                            and TariffKind(d.kind.value) in p.tariffs and d.id not in owner):
                        held.append(Holding(d, via="building"))
                        owner[d.id] = p.id
            book.holdings[p.id] = held
        area = {p.id: p.floor_area_m2 if p.floor_area_m2 is not None else
                sum(buildings[b].floor_area_m2 for b in p.buildings) for p in billing.payers}
        people = {p.id: float(p.occupants if p.occupants is not None else
                              sum(buildings[b].occupants for b in p.buildings)) for p in billing.payers}
        for s in billing.shared:
            d = meter(s.meter, "shared:")
            if s.meter in owner:
                raise ConfigError(f"{where}: meter {s.meter} is shared and also owned by payer {owner[s.meter]} "
                                  "through its buildings: take the building out, or list that payer's meters")
            weights = s.weights(area if s.by.value == "area" else people if s.by.value == "occupants" else {})
            total = sum(weights.values())
            if total <= 0:
                raise ConfigError(f"{where}: shared meter {s.meter} is split by {s.by.value}, but its payers have "
                                  f"none ({', '.join(weights)}): give each payer's {s.by.value} figure")
            for pid, w in weights.items():
                if TariffKind(d.kind.value) not in book.payers[pid].tariffs:
                    raise ConfigError(f"{where}: payer {pid} shares {s.meter} ({d.kind.value}) but has no "
                                      f"{d.kind.value} tariff")
                if w > 0:
                    book.holdings[pid].append(Holding(d, w / total, "shared"))
            owner[s.meter] = "shared"
        for kind, inc in billing.incomer.items():
            d = meter(inc.meter, f"incomer {kind.value}")
            if d.kind.value != kind.value:
                raise ConfigError(f"{where}: incomer {kind.value} names {inc.meter}, a {d.kind.value} meter")
        for i in billing.incentives:
            if i.building is not None and i.building not in buildings:
                raise ConfigError(f"{where}: an incentive names building {i.building}, which the campus does not "
                                  "have")
        # rule 3: sub-meters billed to someone else come off their parent's owner
        for pid, held in book.holdings.items():
            book.holdings[pid] = [
                Holding(h.device, h.share, h.via, tuple(
                    c for c in campus.devices
                    if c.parent == h.device.id and c.id in owner and owner[c.id] != pid))
                for h in held]
        book.area, book.people = area, people
        return book

    def payer(self, pid: str) -> Payer:
        p = self.payers.get(pid)
        if p is None:
            raise NotFound(f"no payer {pid!r} in the billing file for site {self.campus.site.id}")
        return p

    def tariff(self, payer: Payer, kind: TariffKind) -> Tariff:
        return self.tariffs[payer.tariffs[kind]]

    def main_meters(self, kind: TariffKind) -> list[Device]:
        return [d for d in self.campus.devices if d.kind.value == kind.value and d.counts_in_totals]
