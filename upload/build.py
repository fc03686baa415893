"""Packets from the consumption API's numbers: one per building of a configured site and period.

For each building and period (the buckets between ``edges``, local time in the site's zone):

- the class totals (01000 electricity, 02000 water, 03000 gas) are the building's totals as
  ``GET /api/v1/consumption?group_by=building`` gives them: its main meters (sub-meters and the incomer are not
  added again);
- each meter's use is ``group_by=device``'s, under its item (``Campus.item_of``);
- an item below the class (01A00, 01D20, 03A00, …) is the building's use under it as ``reports.items.split``
  counts it for the monthly report's sub-item table (each meter's use less its sub-meters', under its item), and a
  parent item (01D00) adds its children's (01D20); what no item covers is the class total less its items
  (未分项: not sent as a code). A virtual meter is not sent: it is made of meters that are.

A building's centre id is its ``code:`` in the campus file, else ``[upload.sites.SITE] division`` + its entry in
``buildings``; a building with neither is refused before anything is sent, naming it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from campus.contract import Kind
from campus.errors import ConfigError
from campus.items import UNITEMISED, check_building_code, energy_items
from campus.model import Campus
from reports.buckets import Interval
from reports.consumption import UNIT, GroupBy, consumption
from reports.items import ItemSplit, split
from reports.usage import SiteUsage
from upload.config import SiteUpload
from upload.packet import Item, Meter, Packet

CLASS_CODE = {Kind.ELECTRICITY: "01000", Kind.WATER: "02000", Kind.GAS: "03000"}
KINDS = (Kind.ELECTRICITY, Kind.WATER, Kind.GAS)


def building_ids(campus: Campus, site: SiteUpload) -> dict[str, str]:
    """Each building's 10-character id at the centre; ConfigError naming the buildings that have none."""
    out: dict[str, str] = {}
    missing: list[str] = []
    for b in campus.buildings:
        if b.code:
            out[b.id] = b.code
        elif site.division and b.id in site.buildings:
            try:
                out[b.id] = check_building_code(site.division + site.buildings[b.id])
            except ValueError as exc:
                raise ConfigError(f"[upload.sites.{campus.site.id}] buildings.{b.id}: {exc}") from None
        else:
            missing.append(f"{b.id} ({b.name})")
    if missing:
        raise ConfigError(f"site {campus.site.id}: no building code for {', '.join(missing)}: give each "
                          f"`code:` in the campus file, or [upload.sites.{campus.site.id}] division and buildings")
    return out


def _local(ms: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ms / 1000, tz).strftime("%Y%m%d%H%M%S")


def _items(kind: Kind, building: str, parts: ItemSplit, k: int) -> dict[str, float]:
    """Item code → use in bucket ``k``, for one building and kind, below the class: each item's share as
    ``reports.items.split`` counts it (the monthly report's sub-item table), a parent item adding its children's.
    未分项 is left out (the centre gets it by subtraction)."""
    class_code = CLASS_CODE[kind]
    table = energy_items()
    per_key = parts.building(building)
    out: dict[str, float] = defaultdict(float)
    for code, values in per_key.items():
        at: str | None = code if code != UNITEMISED else None
        while at is not None and at != class_code:  # an item adds to its parents' up to the class
            out[at] += values[k]
            at = table[at].parent if at in table else None
    return dict(out)


def packets(usage: SiteUsage, site: SiteUpload, edges: list[int], now_ms: int) -> list[Packet]:
    """Every building's packet for each period between ``edges``, in period then building order (the roll-ups
    are brought up to date first)."""
    usage.refresh()
    campus = usage.campus
    tz = ZoneInfo(campus.site.timezone)
    ids = building_ids(campus, site)
    n = len(edges) - 1
    per_device: dict[str, list[float]] = {}
    coverage: dict[str, list[float]] = {}
    virtual = {d.id for d in campus.devices if d.virtual is not None}
    parts: dict[Kind, ItemSplit] = {}
    for kind in KINDS:
        real = [d.id for d in campus.devices if d.kind is kind and d.id not in virtual]  # a virtual meter is made
        if not real:                                                                   # of meters sent already
            continue
        result = consumption(campus, usage.rollups, usage.store, kind, edges, Interval.HOUR, GroupBy.DEVICE, now_ms,
                             devices=real)
        for g in result.groups:
            per_device[g.key] = g.totals
            coverage[g.key] = [g.coverage(k) for k in range(n)]
        parts[kind] = split(campus, kind, {d.id: per_device[d.id] for d in campus.devices
                                           if d.kind is kind and d.id in per_device})
    out: list[Packet] = []
    for k in range(n):
        for b in campus.buildings:
            items: list[Item] = []
            meters: list[Meter] = []
            for kind in KINDS:
                devices = [d for d in campus.devices if d.building == b.id and d.id in per_device
                           and d.kind is kind]
                if not devices:
                    continue
                use = {d.id: per_device[d.id][k] for d in devices}
                # the class total as group_by=building adds it (its main meters), then the items below it; every
                # figure rounded as the API rounds it (6 places; coverage 4)
                codes = {CLASS_CODE[kind]: sum(use[d.id] for d in devices if d.counts_in_totals),
                         **_items(kind, b.id, parts[kind], k)}
                items += [Item(code, UNIT[kind], round(value, 6)) for code, value in codes.items()]
                meters += [Meter(d.id, d.name or d.id, campus.item_of(d) or CLASS_CODE[kind], UNIT[kind],
                                 round(use[d.id], 6), round(coverage[d.id][k], 4)) for d in devices]
            if meters:
                out.append(Packet(campus.site.id, b.id, ids[b.id], site.gateway_id, edges[k], edges[k + 1],
                                  _local(edges[k], tz), tuple(items), tuple(meters)))
    return out


def period_edges(start_ms: int, end_ms: int, minutes: int) -> list[int]:
    """Period starts from ``start_ms`` (on a period boundary) up to ``end_ms``: every period that has ended."""
    step = minutes * 60_000
    out = [start_ms]
    while out[-1] + step <= end_ms:
        out.append(out[-1] + step)
    return out


def period_floor(ms: int, minutes: int, tz: ZoneInfo) -> int:
    """The start of the period holding ``ms``, on the local clock (local quarters, halves, hours)."""
    local = datetime.fromtimestamp(ms / 1000, tz)
    local = local.replace(minute=local.minute - local.minute % minutes, second=0, microsecond=0)
    return int(local.timestamp() * 1000)
