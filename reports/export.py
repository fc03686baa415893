"""Each meter's daily use written beside its readings (InfluxDB), for dashboards.

Measurement ``consumption``, one point per meter and local day at local midnight; tags ``kind``,
``site``, ``building``, ``department``, ``zone``, ``device`` and ``counted`` (``true`` for a main
meter, ``false`` for a sub-meter or the incomer, which building and site totals leave out); fields
``used`` (kWh or m³, multiplier and register rules applied) and ``readings``. The numbers are the
ones ``/api/v1/consumption`` gives for the same day and meter, so a Grafana panel summing them
agrees with meterwatch. Rewritten from the day before a recomputed meter's first changed day
(a step across midnight is shared between the two days); the roll-ups note what is pending in
the same transaction as the rows, so nothing is lost to a crash.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from campus.contract import REGISTER_FIELD
from campus.model import Campus
from ingest.stores import Point, PointSink, ReadingStore
from reports.buckets import Interval, day_edges
from reports.consumption import meter_use
from reports.rollup import Rollups

MEASUREMENT = "consumption"
DAY_MS = 86_400_000


def export_days(sink: PointSink, campus: Campus, rollups: Rollups, store: ReadingStore, now_ms: int) -> int:
    """Write out every pending meter's daily use; returns how many points were written."""
    pending = rollups.pending_exports()
    if not pending:
        return 0
    tz = ZoneInfo(campus.site.timezone)
    depts = {b.id: b.department.value for b in campus.buildings}
    devices = {d.id: d for d in campus.devices}
    points: list[Point] = []
    for device_id, since in pending.items():
        dev = devices.get(device_id)
        if dev is None or REGISTER_FIELD[dev.kind] is None:
            continue
        first = rollups.first_day(device_id)
        if first is None:
            continue
        start = max(first, since - DAY_MS)
        edges = day_edges(start, max(start, now_ms), tz)
        use = meter_use(rollups, store, dev, edges, Interval.DAY, now_ms)
        tags = {"kind": dev.kind.value, "site": campus.site.id, "building": dev.building,
                "department": depts.get(dev.building, "other"), "zone": dev.zone or "default", "device": dev.id,
                "counted": "true" if dev.counts_in_totals else "false"}
        points += [Point(MEASUREMENT, tags, {"used": total, "readings": float(n)}, day)
                   for day, total, n in zip(edges, use.totals, use.readings, strict=False)]
    sink.write_points(points)
    rollups.exported(pending)
    return len(points)
