"""The energy flow (能流图) of one kind over a period: incomer → buildings → items, with losses.

Built from each meter's use over the period, as the consumption API counts it (``group_by=device``, the same
buckets), and the campus's meter tree:

- **incomer** (进线): the sum of the site's incomer meters (``role: incomer``).
- **buildings**: each building's main meters (those that count in totals), the consumption API's building total.
- **losses** (线损及未计量 for electricity, 管网漏损及未计量 for water and gas): incomer − Σ buildings, its own node.
- **items** (分项): a building's first-level sub-meters (``parent`` one of its main meters), by their energy item
  (``Campus.items_of``: the one they name, else their kind's default; a meter shared by items gives each its
  part); a sub-meter inside a sub-meter is inside its
  parent's use and is not drawn again. One node per item code, shared by the buildings that feed it. A sub-meter
  whose item is a top of the table (01000 电, 02000 水: no parent item) is not itemised: its use stays in 未分项.
- **未分项** (unitemised): a building's total − Σ its itemised first-level sub-meters, one shared node, never
  hidden.
- Virtual meters are not drawn: they count in no total (``Device.counts_in_totals``).

Balance, the rule the tests hold: the incomer's value = Σ its links (buildings and losses); each building's value
= its link in (when there is an incomer) = Σ its links out (items and 未分项); an item's value = Σ its links in.
A link may be negative where meters disagree (buildings above the incomer, sub-meters above their main meter):
it keeps its sign here, and the console draws only the positive ones and says which are not drawn.

Scope: a token narrowed to zones or buildings (``whole=False``) sees only its buildings and their items: no
incomer and no losses node, since both are made of buildings it may not see.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from campus.contract import Kind
from campus.items import energy_items
from campus.model import INCOMER, Campus

UNITEMISED = "unitemised"
INCOMER_NAME = {Kind.ELECTRICITY: ("供电进线", "Incomer"), Kind.WATER: ("供水总表", "Water supply"),
                Kind.GAS: ("燃气总表", "Gas supply")}
LOSS_NAME = {Kind.ELECTRICITY: ("线损及未计量", "Line losses and unmetered"),
             Kind.WATER: ("管网漏损及未计量", "Network losses and unmetered"),
             Kind.GAS: ("管网损耗及未计量", "Network losses and unmetered")}
UNITEMISED_NAME = ("未分项", "Unitemised")


@dataclass(slots=True)
class FlowNode:
    id: str                       # incomer | loss | unitemised | building:<id> | item:<code>
    kind: str                     # incomer | loss | building | item | unitemised
    name: str
    value: float
    code: str | None = None       # the building's code or the item's code
    devices: list[str] = field(default_factory=list)


@dataclass(slots=True)
class FlowLink:
    source: str
    target: str
    value: float


@dataclass(slots=True)
class Flow:
    nodes: list[FlowNode]
    links: list[FlowLink]


def _pick(names: tuple[str, str], language: str) -> str:
    return names[1] if language.lower().startswith("en") else names[0]


def energy_flow(campus: Campus, kind: Kind, use: dict[str, float], *, whole: bool, language: str = "zh-CN") -> Flow:
    """The flow of ``kind`` over ``campus`` (as the asker sees it) from ``use`` (device id → use in the period)."""
    meters = [d for d in campus.devices if d.kind is kind and d.virtual is None]
    mains = {d.id: d for d in meters if d.counts_in_totals}
    nodes: list[FlowNode] = []
    links: list[FlowLink] = []
    items: dict[str, FlowNode] = {}
    unitemised = FlowNode(UNITEMISED, "unitemised", _pick(UNITEMISED_NAME, language), 0.0)
    buildings: list[tuple[FlowNode, list[FlowLink]]] = []
    catalogue = energy_items()
    for b in campus.buildings:
        own = [d for d in mains.values() if d.building == b.id]
        if not own:
            continue
        total = sum(use.get(d.id, 0.0) for d in own)
        node = FlowNode(f"building:{b.id}", "building", b.name, total, b.code, [d.id for d in own])
        out: list[FlowLink] = []
        subs = [d for d in meters if d.parent is not None and d.parent in mains and mains[d.parent].building == b.id]
        by_item: dict[str, float] = {}
        for sub in subs:
            for code, frac in campus.items_of(sub).items():  # a meter shared by items: its part to each
                if code not in catalogue or catalogue[code].parent is None:
                    continue  # not itemised (电, 水): its use stays in the building's 未分项
                by_item[code] = by_item.get(code, 0.0) + use.get(sub.id, 0.0) * frac
                item = items.get(code)
                if item is None:
                    item = items[code] = FlowNode(f"item:{code}", "item", catalogue[code].name(language), 0.0, code)
                item.devices.append(sub.id)
        for code, value in by_item.items():
            out.append(FlowLink(node.id, f"item:{code}", value))
            items[code].value += value
        rest = total - sum(by_item.values())
        out.append(FlowLink(node.id, UNITEMISED, rest))
        unitemised.value += rest
        buildings.append((node, out))
    buildings.sort(key=lambda pair: -pair[0].value)
    incomers = [d for d in meters if d.role == INCOMER and d.parent is None]
    if whole and incomers:
        supply = sum(use.get(d.id, 0.0) for d in incomers)
        inc = FlowNode("incomer", "incomer", _pick(INCOMER_NAME[kind], language), supply, None,
                       [d.id for d in incomers])
        nodes.append(inc)
        for node, _ in buildings:
            links.append(FlowLink(inc.id, node.id, node.value))
        loss = supply - sum(node.value for node, _ in buildings)
        nodes.append(FlowNode("loss", "loss", _pick(LOSS_NAME[kind], language), loss))
        links.append(FlowLink(inc.id, "loss", loss))
    for node, out in buildings:
        nodes.append(node)
        links += out
    nodes += sorted(items.values(), key=lambda n: n.code or "")
    if buildings:
        nodes.append(unitemised)
    return Flow(nodes, links)
