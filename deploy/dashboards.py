"""Grafana dashboards as code, for the InfluxDB store (InfluxQL), built with Grafana's foundation SDK.

Pinned to one Grafana version (11.6, the SDK's epoch in pyproject.toml); the tests validate each
dashboard against that version's JSON schema and run every panel query against a real InfluxDB.

- **Campus overview** (``mw-campus``): each kind's use today and over the chosen period against
  the same period a year before, for the campus and for each building; daily use per building.
- **Building** (``mw-building``): one building's daily electricity, water and gas; its meters' power.
- **Device** (``mw-device``): every field one device sends, and its latest values.
- **Drinking water** (``mw-drinking-water``): pH, turbidity and free chlorine of every drinking-water,
  canteen-water and secondary-supply sensor, with the GB 5749-2022 limits drawn as thresholds; below, the
  direct-drinking fountains' (purified_drinking) against CJ 94-2005's (no chlorine floor: carbon removes it).
- **Data health** (``mw-health``): when each device last reported, dead letters, spool depth, backlog.

Use comes from the ``consumption`` measurement (``reports.export``): the same day totals as
``/api/v1/consumption``. Times are grouped in the campus's time zone (``tz(...)``).
"""

from __future__ import annotations

import json
from typing import Any, Self

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from campus.contract import KIND_FIELDS, Kind
from campus.model import Campus

DATASOURCE_UID = "meterwatch-influxdb"
FOLDER = "meterwatch"
GRAFANA_VERSION = "11.6"
DS = model.DataSourceRef(type_val="influxdb", uid=DATASOURCE_UID)
UNITS = {Kind.ELECTRICITY: "kwatth", Kind.WATER: "m3", Kind.GAS: "m3"}
NAMES = {Kind.ELECTRICITY: "用电 electricity", Kind.WATER: "用水 water", Kind.GAS: "用气 gas"}
# GB 5749-2022 limits (the same as alerts/default_rules.yaml): field -> (low, high), None where there is none
DRINKING_LIMITS: dict[str, tuple[float | None, float | None]] = {
    "ph": (6.5, 8.5), "turbidity_ntu": (None, 1.0), "free_chlorine_mgl": (0.05, 2.0)}
DRINKING_ROLES = ("drinking", "canteen_water", "secondary_supply")
# direct-drinking fountains: CJ 94-2005's pH and turbidity, GB 5749's chlorine ceiling without its floor (the same as
# the purified-* rules of alerts/default_rules.yaml)
PURIFIED_LIMITS: dict[str, tuple[float | None, float | None]] = {
    "ph": (6.0, 8.5), "turbidity_ntu": (None, 0.5), "free_chlorine_mgl": (None, 2.0)}
PURIFIED_ROLES = ("purified_drinking",)


class InfluxQuery(cogvariants.Dataquery):
    """A raw InfluxQL target (the SDK has no InfluxDB query type: its documented way of adding one)."""

    def __init__(self, query: str, ref_id: str = "A", result_format: str = "time_series") -> None:
        self.query, self.ref_id, self.result_format = query, ref_id, result_format

    def to_json(self) -> dict[str, object]:
        return {"refId": self.ref_id, "query": self.query, "rawQuery": True, "resultFormat": self.result_format,
                "datasource": {"type": "influxdb", "uid": DATASOURCE_UID}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(str(data["query"]), str(data.get("refId", "A")), str(data.get("resultFormat", "time_series")))


class Influx(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, query: str, ref_id: str = "A", result_format: str = "time_series") -> None:
        self._internal = InfluxQuery(query, ref_id, result_format)

    def build(self) -> InfluxQuery:
        return self._internal


def _grid(x: int, y: int, w: int, h: int) -> model.GridPos:
    return model.GridPos(h=h, w=w, x=x, y=y)


def _use(kind: Kind, where: str = "", group: str = "") -> str:
    cond = f""""kind" = '{kind.value}' AND "counted" = 'true'{where}"""
    return f'SELECT sum("used") FROM "consumption" WHERE {cond} AND $timeFilter{group}'


def _dashboard(uid: str, title: str, campus: Campus) -> db.Dashboard:
    return (db.Dashboard(title).uid(uid).tags(["meterwatch"]).timezone(campus.site.timezone).editable()
            .refresh("5m").time("now/M", "now"))


def campus_overview(campus: Campus) -> db.Dashboard:
    tz = f" tz('{campus.site.timezone}')"
    d = _dashboard("mw-campus", f"{campus.site.name} 能耗总览 campus overview", campus)
    for i, kind in enumerate(UNITS):
        d = d.with_panel(
            stat.Panel().title(f"今日{NAMES[kind]} today").datasource(DS).unit(UNITS[kind])
            .grid_pos(_grid(i * 8, 0, 4, 4))
            # a day's point is at its local midnight: in the last 24 h there is exactly one, today's
            .with_target(Influx(f"""SELECT sum("used") FROM "consumption" WHERE "kind" = '{kind.value}' AND """
                                f""""counted" = 'true' AND time > now() - 24h""")))
        d = d.with_panel(
            stat.Panel().title(f"{NAMES[kind]} 本期 vs 去年同期 vs last year").datasource(DS).unit(UNITS[kind])
            .grid_pos(_grid(i * 8 + 4, 0, 4, 4))
            .with_target(Influx(_use(kind), "A"))
            .with_target(Influx(f"""SELECT sum("used") FROM "consumption" WHERE "kind" = '{kind.value}' AND """
                                f""""counted" = 'true' AND time >= ${{__from}}ms - 52w AND time <= ${{__to}}ms - 52w""",
                                "B")))
    by_building = ' GROUP BY "building"'
    period = table.Panel().title("各楼栋本期与去年同期 each building: this period and a year before").datasource(DS)
    today = table.Panel().title("各楼栋今日用量 each building today").datasource(DS)
    for i, kind in enumerate(UNITS):
        ref = "ABC"[i]
        period = (period.with_target(Influx(_use(kind, group=by_building), ref, "table"))
                  .with_target(Influx(_use(kind, group=by_building).replace(
                      "$timeFilter", "time >= ${__from}ms - 52w AND time <= ${__to}ms - 52w"), f"{ref}2", "table")))
        today = today.with_target(Influx(f"""SELECT sum("used") FROM "consumption" WHERE "kind" = '{kind.value}' """
                                         f"""AND "counted" = 'true' AND time > now() - 24h{by_building}""", ref,
                                         "table"))
    d = d.with_panel(today.grid_pos(_grid(0, 4, 8, 8))).with_panel(period.grid_pos(_grid(8, 4, 16, 8)))
    for i, kind in enumerate(UNITS):
        d = d.with_panel(
            timeseries.Panel().title(f"各楼栋每日{NAMES[kind]} daily per building").datasource(DS)
            .unit(UNITS[kind]).draw_style(common.GraphDrawStyle.BARS).grid_pos(_grid(0, 12 + i * 8, 24, 8))
            .with_target(Influx(_use(kind, group=' GROUP BY time(1d), "building" fill(none)') + tz)))
    return d


def building(campus: Campus) -> db.Dashboard:
    tz = f" tz('{campus.site.timezone}')"
    d = (_dashboard("mw-building", f"{campus.site.name} 楼栋 building", campus)
         .with_variable(db.QueryVariable("building").label("楼栋 building").datasource(DS)
                        .query('SHOW TAG VALUES FROM "consumption" WITH KEY = "building"')))
    for i, kind in enumerate(UNITS):
        d = d.with_panel(
            timeseries.Panel().title(f"每日{NAMES[kind]} daily").datasource(DS).unit(UNITS[kind])
            .draw_style(common.GraphDrawStyle.BARS).grid_pos(_grid(0, i * 8, 12, 8))
            .with_target(Influx(_use(kind, " AND \"building\" = '$building'", " GROUP BY time(1d) fill(none)") + tz)))
    return d.with_panel(
        timeseries.Panel().title("电表功率 power (kW)").datasource(DS).unit("kwatt").grid_pos(_grid(12, 0, 12, 24))
        .with_target(Influx("""SELECT mean("power_kw") FROM "electricity" WHERE "building" = '$building' AND """
                            """$timeFilter GROUP BY time($__interval), "device" fill(none)""")))


def device(campus: Campus) -> db.Dashboard:
    d = (_dashboard("mw-device", f"{campus.site.name} 设备 device", campus)
         .with_variable(db.CustomVariable("kind").label("类型 kind").values(",".join(k.value for k in Kind)))
         .with_variable(db.QueryVariable("device").label("设备 device").datasource(DS)
                        .query('SHOW TAG VALUES FROM "$kind" WITH KEY = "device"')))
    fields = sorted({f for fs in KIND_FIELDS.values() for f in fs})
    return (d.with_panel(
        timeseries.Panel().title("全部数据 every field").datasource(DS).grid_pos(_grid(0, 0, 24, 12))
        .with_target(Influx("""SELECT mean(*) FROM "$kind" WHERE "device" = '$device' AND $timeFilter """
                            """GROUP BY time($__interval) fill(none)""")))
        .with_panel(
            table.Panel().title("最新读数 latest").datasource(DS).grid_pos(_grid(0, 12, 24, 6))
            .with_target(Influx("""SELECT last(*) FROM "$kind" WHERE "device" = '$device' AND $timeFilter""", "A",
                                "table")))
        .description(f"fields a device may send: {', '.join(fields)}"))


def drinking_water(campus: Campus) -> db.Dashboard:
    d = _dashboard("mw-drinking-water", f"{campus.site.name} 饮用水水质 drinking water (GB 5749-2022, CJ 94-2005)",
                   campus)
    d = _limit_panels(d, campus, DRINKING_ROLES, DRINKING_LIMITS, "", 0)
    return _limit_panels(d, campus, PURIFIED_ROLES, PURIFIED_LIMITS, "直饮水 purified (CJ 94-2005) · ",
                         len(DRINKING_LIMITS) * 8)


def _limit_panels(d: db.Dashboard, campus: Campus, roles: tuple[str, ...],
                  limits: dict[str, tuple[float | None, float | None]], prefix: str, top: int) -> db.Dashboard:
    """One panel per field of ``limits`` for the sensors of ``roles``, the limits drawn as threshold lines."""
    sensors = sorted(dev.id for dev in campus.devices if dev.kind is Kind.WATER_QUALITY and dev.role in roles)
    match = "|".join(sensors) or "-"
    titles = {"ph": "pH", "turbidity_ntu": "浑浊度 turbidity (NTU)", "free_chlorine_mgl": "游离氯 free chlorine (mg/L)"}
    for i, (field, (low, high)) in enumerate(limits.items()):
        # the base step at 0 (none of these can be negative): the schema wants a number where Grafana writes null
        steps = [model.Threshold(value=0.0, color="red" if low is not None else "green")]
        if low is not None:
            steps.append(model.Threshold(value=low, color="green"))
        if high is not None:
            steps.append(model.Threshold(value=high, color="red"))
        d = d.with_panel(
            timeseries.Panel().title(prefix + titles[field]).datasource(DS).grid_pos(_grid(0, top + i * 8, 24, 8))
            .thresholds(db.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(steps))
            .thresholds_style(common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.LINE))
            .with_target(Influx(f"""SELECT mean("{field}") FROM "water_quality" WHERE "device" =~ /^({match})$/ """
                                """AND $timeFilter GROUP BY time($__interval), "device" fill(none)""")))
    return d


def data_health(campus: Campus) -> db.Dashboard:
    d = _dashboard("mw-health", f"{campus.site.name} 数据健康 data health", campus).time("now-24h", "now")
    measurements = ", ".join(f'"{k.value}"' for k in Kind)
    d = d.with_panel(
        table.Panel().title("各设备最后上报 last reading per device (oldest first: silent devices)").datasource(DS)
        .grid_pos(_grid(0, 0, 12, 16))
        .with_target(Influx(f"""SELECT last("seq") FROM {measurements} WHERE time > now() - 30d """
                            """GROUP BY "device\"""", "A", "table")))
    for i, (field, title) in enumerate((("dead_letters", "死信 dead letters"), ("spool_depth", "缓存 spool depth"),
                                        ("backlog", "积压 backlog"))):
        d = d.with_panel(
            timeseries.Panel().title(title).datasource(DS).grid_pos(_grid(12, i * 6, 12, 6))
            .with_target(Influx(f"""SELECT max("{field}") FROM "meterwatch" WHERE $timeFilter """
                                """GROUP BY time($__interval) fill(none)""")))
    return d


BUILDERS = {"campus-overview": campus_overview, "building": building, "device": device,
            "drinking-water": drinking_water, "data-health": data_health}


def dashboards(campus: Campus) -> dict[str, dict[str, Any]]:
    """File name (without .json) -> dashboard JSON, as Grafana imports it."""
    out = {}
    for name, build in BUILDERS.items():
        out[name] = json.loads(JSONEncoder(sort_keys=True).encode(build(campus).build()))
    return out
