"""Recording a water test: each value judged against its limit, alerts for what is out, drift against the sensor.

- A value outside its limit raises the alert a sensor there would raise (the rule file's rule for that
  parameter; ``water-test-limit`` for a laboratory parameter), one per point and parameter, naming the test.
  A later test of that point and parameter within its limit settles it.
- A laboratory value further from the point's sensor than the drift tolerance raises ``sensor-drift`` on the
  sensor; a later laboratory test that agrees settles it.
- A filter change (``kind: filter``) carries no values.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from alerts.book import NewAlert
from alerts.rules import RECORD_RULES
from campus.contract import Kind
from campus.errors import StoreUnavailable
from campus.labels import Name
from records.context import Context, RecordRefused
from records.desk import RecordDesk
from records.overdue import TEST_NAMES
from records.photos import Upload
from records.store import NotUploaded, WaterTestRow
from records.water import DRIFT, KINDS, NEAR_MS, PARAMS, Limit, SamplingPoint, drifted, limits, points, standard

FUTURE_MS = 5 * 60_000      # a sample "taken" later than this past the server's clock is refused


@dataclass(frozen=True, slots=True)
class Value:
    value: float
    low: float | None = None
    high: float | None = None
    unit: str | None = None
    name: str | None = None


def _judge(ctx: Context, point: SamplingPoint, values: dict[str, Value]) -> list[dict[str, Any]]:
    known = limits(ctx.desk.rules if ctx.desk is not None else None, ctx.campus, point)
    out = []
    for field, v in values.items():
        if not math.isfinite(v.value):
            raise RecordRefused(f"{field}: {v.value} is not a number")
        if (v.low is not None or v.high is not None) and field in known:
            held = standard(point.role, "en")
            raise RecordRefused(f"{field}: its limit at {point.id} is {known[field].text()} ({held} and the rule "
                                f"file), and a test cannot set another; send the value alone, e.g. "
                                f'{{"{field}": {v.value:g}}}')
        if v.low is not None or v.high is not None:
            limit = Limit(v.low, v.high, None)
        elif field in known:
            limit = known[field]
        else:
            raise RecordRefused(f"{field}: meterwatch knows no limit for it at {point.id}; send it with its limit, "
                                f'e.g. {{"{field}": {{"value": {v.value:g}, "max": 0.01, "unit": "mg/L"}}}}')
        p = PARAMS.get(field)
        out.append({"field": field, "name": v.name or (p.zh if p else field),
                    "name_en": v.name or (p.en if p else field),
                    "value": v.value, "unit": v.unit or (p.unit if p else ""), "low": limit.low, "high": limit.high,
                    "limit": limit.text(), "rule": limit.rule, "ok": limit.holds(v.value)})
    return out


def _sensor_value(desk: RecordDesk, ctx: Context, device: str, field: str, at_ms: int) -> float | None:
    try:
        before, after = desk.readings.around(ctx.site, device, Kind.WATER_QUALITY, field, at_ms)
    except StoreUnavailable:
        return None
    near = [s for s in (before, after) if s is not None and abs(s.ts - at_ms) <= NEAR_MS and field in s.values]
    if not near:
        return None
    return min(near, key=lambda s: abs(s.ts - at_ms)).values[field]


def record_test(desk: RecordDesk, ctx: Context, *, point: str, kind: str, lab: str | None, taken: dt.datetime,
                values: dict[str, Value], attachment: str | None, note: str, by: str,
                upload: Upload | None = None) -> WaterTestRow:
    """``attachment``: the SHA-256 of a PDF uploaded for the site; ``upload``: one sent with the test (kept only
    once the test has been checked)."""
    found = points(ctx.campus)
    p = found.get(point)
    if p is None:
        raise RecordRefused(f"no sampling point {point!r} at site {ctx.site}; points: {', '.join(list(found)[:30])}")
    if kind not in KINDS:
        raise RecordRefused(f"kind {kind!r}: use self, lab or filter")
    if kind == "lab" and not (lab or "").strip():
        raise RecordRefused("a laboratory test needs lab: the laboratory's name")
    if kind == "filter" and values:
        raise RecordRefused("a filter change carries no values (record a test for those)")
    if kind == "filter" and not p.filter:
        raise RecordRefused(f"{point} has no filter to change (filter: true in the campus file)")
    if kind != "filter" and not values:
        raise RecordRefused("a test needs values, e.g. {\"ph\": 7.2}")
    if attachment is not None and (desk.store.unowned(ctx.site, [attachment]) or not desk.shelf.has(attachment)):
        raise NotUploaded(f"the attachment was not uploaded for site {ctx.site}: send it with the test as "
                          "multipart/form-data")
    now = desk.now_ms()
    taken_ms = int(taken.timestamp() * 1000)
    if taken_ms > now + FUTURE_MS:
        raise RecordRefused(f"taken_at {taken.isoformat()} is in the future: record a test after it was taken")
    results = _judge(ctx, p, values)
    if upload is not None:  # the test is as it must be: only now is its PDF kept
        attachment = desk.keep(ctx.site, [upload])[0]
    row = desk.store.add_test(site=ctx.site, point=p.id, kind=kind, lab=lab, taken_ms=taken_ms, by=by, now_ms=now,
                              results=results, attachment=attachment, note=note)
    alerts = _alerts(desk, ctx, p, row)
    desk.settle(ctx, "water-test-overdue", f"{kind}:{p.id}", f"{TEST_NAMES[kind][1]} #{row.id} recorded")
    return desk.store.set_test_alerts(row.id, alerts) if alerts else row


def _alerts(desk: RecordDesk, ctx: Context, p: SamplingPoint, row: WaterTestRow) -> list[int]:
    site = ctx.desk
    if site is None or desk.alerts is None:
        return []
    language = desk.alerts.language
    now = desk.now_ms()
    building = ctx.campus.building(p.building)
    dept = building.department.value if building else None
    taken = dt.datetime.fromtimestamp(row.taken_ms / 1000, ctx.tz)
    what_zh = f"{TEST_NAMES[row.kind][0]} #{row.id}" + (f"（{row.lab}）" if row.lab else "")
    what_en = f"{TEST_NAMES[row.kind][1]} #{row.id}" + (f" ({row.lab})" if row.lab else "")
    what = what_zh if language.startswith("zh") else what_en
    newest = desk.store.last_tests(ctx.site)
    raised = []
    for r in row.results:
        subject = f"test:{p.id}:{r['field']}"
        rule_id = r["rule"] or "water-test-limit"
        rule = site.rules.file_rule(rule_id)
        category, severity = ((rule.category.value, rule.severity.value) if rule else
                              (RECORD_RULES["water-test-limit"].category.value,
                               RECORD_RULES["water-test-limit"].severity.value))
        if r["ok"]:
            if max(newest.get((p.id, "self"), 0), newest.get((p.id, "lab"), 0)) <= row.taken_ms:
                desk.settle(ctx, rule_id, subject, f"{what}: {r['field']} {r['value']:g} within {r['limit']}")
            continue
        detail = Name(zh=f"{p.name}{what_zh} {taken:%Y-%m-%d %H:%M} 取样：{r['name']} {r['value']:g} {r['unit']}，"
                         f"限值 {r['limit']}", en=f"{p.name}, {what_en} sampled {taken:%Y-%m-%d %H:%M}: "
                         f"{r['name_en']} {r['value']:g} {r['unit']}, limit {r['limit']}")
        texts = {"subject": Name(zh=f"{p.name} · {r['name']}", en=f"{p.name} · {r['name_en']}"), "detail": detail}
        raised.append(site.book.record(NewAlert(
            rule=rule_id, category=category, severity=severity, subject=subject, detail=detail.text(language),
            ts=row.taken_ms, zone=p.zone, building=p.building, device=p.device, department=dept, value=r["value"],
            limit=r["limit"], unit=r["unit"], texts=texts), now))
    if row.kind == "lab" and p.device is not None:
        drift = RECORD_RULES["sensor-drift"]
        for r in row.results:
            if r["field"] not in DRIFT:  # what sensors do not measure
                continue
            sensor = _sensor_value(desk, ctx, p.device, r["field"], row.taken_ms)
            if sensor is None:
                continue
            subject = f"drift:{p.device}:{r['field']}"
            if not drifted(r["field"], r["value"], sensor):
                desk.settle(ctx, "sensor-drift", subject, f"{what} agrees with the sensor")
                continue
            detail = Name(zh=f"{p.name}：传感器 {r['name']} {sensor:g}，{what_zh} {r['value']:g}，请校准或更换传感器",
                          en=f"{p.name}: sensor {r['name_en']} {sensor:g}, {what_en} {r['value']:g}; calibrate or "
                          f"replace the sensor")
            texts = {"subject": Name(zh=f"{p.name} · {r['name']}传感器", en=f"{p.name} · {r['name_en']} sensor"),
                     "detail": detail}
            # known when the test is recorded (its age counts from then), not when the sample was taken
            raised.append(site.book.record(NewAlert(
                rule="sensor-drift", category=drift.category.value, severity=drift.severity.value, subject=subject,
                detail=detail.text(language), ts=now, zone=p.zone, building=p.building, device=p.device,
                department=dept, value=sensor, limit=f"{r['value']:g}", unit=r["unit"], texts=texts), now))
    return raised
