"""The simulated campus: every device's readings over a period, in publication order.

Deterministic for a seed: each value comes from a random stream keyed by (seed, device, time).
Registers integrate the load curves of :mod:`simulators.profiles`; faults bend them.
"""

from __future__ import annotations

import heapq
import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from simulators import profiles
from simulators.calendar import DayType, SchoolCalendar
from simulators.faults import resolve

PURIFIED = "purified_drinking"
LOSS = 0.04  # the incomer's share above the main meters: line losses and unmetered use (2–6 % is plausible)
QUALITY_BASE: dict[str, dict[str, float]] = {
    "drinking": {"ph": 7.2, "turbidity_ntu": 0.2, "free_chlorine_mgl": 0.3, "tds_mgl": 180, "temperature_c": 22},
    # a direct-drinking fountain (直饮水机): tap water through carbon and reverse osmosis. The carbon takes the
    # chlorine out (0.00–0.02 mg/L is what a sensor reads), the membrane ~90 % of the salts (TDS 5–40 mg/L,
    # conductivity ~1.55 µS/cm per mg/L as for the tap), pH a little lower (dissolved CO2 passes the membrane),
    # turbidity near the sensor's floor
    "purified_drinking": {"ph": 7.0, "turbidity_ntu": 0.08, "free_chlorine_mgl": 0.01, "tds_mgl": 20,
                          "temperature_c": 21},
    "canteen_water": {"ph": 7.3, "turbidity_ntu": 0.3, "free_chlorine_mgl": 0.35, "tds_mgl": 260,
                      "temperature_c": 20},
    "secondary_supply": {"ph": 7.3, "turbidity_ntu": 0.3, "free_chlorine_mgl": 0.25, "tds_mgl": 240,
                         "temperature_c": 17},
    "water_heater_outlet": {"temperature_c": 57},
    "water_heater_storage": {"temperature_c": 63},
}


@dataclass
class Publication:
    """One MQTT publish. ``readings`` are the valid (ts_ms, values) it carries."""

    ts_ms: int
    topic: str
    payload: bytes
    device: str
    what: str = "reading"  # reading | batch | duplicate | malformed | status | disconnect
    readings: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    retain: bool = False


def load_campus_doc(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or "site" not in doc or "devices" not in doc:
        raise ValueError(f"{path}: not a campus file (needs site, buildings, devices)")
    return doc


class Simulation:
    def __init__(self, campus: dict[str, Any], *, start: datetime, end: datetime, seed: int = 1,
                 faults: list[str] | None = None, prefix: str = "campus") -> None:
        self.site = campus["site"]["id"]
        self.tz = ZoneInfo(campus["site"].get("timezone", "Asia/Shanghai"))
        self.calendar = SchoolCalendar(campus.get("calendar"))
        self.buildings = {b["id"]: b for b in campus["buildings"]}
        self.devices: list[dict[str, Any]] = [d for d in campus["devices"] if not d.get("virtual")]  # computed
        self.start_ms, self.end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
        self.seed, self.prefix = seed, prefix
        depts = {b: v["department"] for b, v in self.buildings.items()}
        self.faults = [resolve(f, self.devices, depts) for f in faults or []]
        self.by_device: dict[str, set[str]] = {}
        self.since: dict[tuple[str, str], int] = {}
        for f in self.faults:
            self.by_device.setdefault(f.device or "*", set()).add(f.name)
            if f.since is not None:
                at = f.since if f.since.tzinfo else f.since.replace(tzinfo=self.tz)
                self.since[(f.device or "*", f.name)] = int(at.timestamp() * 1000)
        self.half_ms = self.start_ms + (self.end_ms - self.start_ms) // 2
        self.third_ms = self.start_ms + (self.end_ms - self.start_ms) // 3
        self._day_cache: dict[Any, DayType] = {}
        # the site's supply meter sees every main meter (not the sub-meters inside them) plus the losses and
        # unmetered use of the campus network: a steady LOSS share
        self.mains = [d for d in self.devices if d["kind"] == "electricity" and not d.get("parent")
                      and d.get("role") != "incomer"]

    # -- helpers -----------------------------------------------------------------------
    def topic(self, device: str, channel: str = "reading") -> str:
        return f"{self.prefix}/{self.site}/{device}/{channel}"

    def _rng(self, device: str, ts: int, salt: str = "") -> random.Random:
        return random.Random(f"{self.seed}:{device}:{ts}:{salt}")

    def _local(self, ts_ms: int) -> tuple[float, DayType]:
        local = datetime.fromtimestamp(ts_ms / 1000, self.tz)
        day = local.date()
        if day not in self._day_cache:
            self._day_cache[day] = self.calendar.day_type(day)
        return local.hour + local.minute / 60, self._day_cache[day]

    def _has(self, device: str, fault: str, ts_ms: int | None = None) -> bool:
        """Does ``fault`` bend ``device`` (at ``ts_ms``: a fault with a start time only from then on)?"""
        found = fault in self.by_device.get(device, ()) or fault in self.by_device.get("*", ())
        since = self.since.get((device, fault))
        return found and (since is None or ts_ms is None or ts_ms >= since)

    # -- values ------------------------------------------------------------------------
    def _rate(self, dev: dict[str, Any], ts_ms: int) -> float:
        """kW or m³/h at a moment, faults included."""
        hour, day = self._local(ts_ms)
        b = self.buildings[dev["building"]]
        dept, area, kind = b["department"], b.get("floor_area_m2", 1000), dev["kind"]
        if kind == "electricity":
            if dev.get("role") == "incomer":
                return sum(self._rate(m, ts_ms) for m in self.mains) * (1 + LOSS)
            if dev.get("role") == "dorm_room":
                rate = profiles.dorm_room_kw(hour, day)
            else:
                rate = profiles.electricity_kw(dept, hour, day, area)
                if dev.get("parent") and dev.get("item"):  # an item sub-meter: its share of the building's load
                    rate *= profiles.item_share(str(dev["item"]))
            if self._has(dev["id"], "over_budget", ts_ms):
                rate += 40
            if self._has(dev["id"], "lights_on_night", ts_ms) and (hour >= 22 or hour < 6):
                rate += 25
            if self._has(dev["id"], "dorm_appliance", ts_ms) and 20 <= hour < 20.75:
                rate += 1.8
        elif kind == "water":
            rate = profiles.water_m3h(dept, hour, day, area)
            if self._has(dev["id"], "water_leak", ts_ms):
                rate += 0.4
            if self._has(dev["id"], "water_over_budget", ts_ms):
                rate += 2.0
        else:
            rate = profiles.gas_m3h(dept, hour, day, area)
            if self._has(dev["id"], "gas_after_hours", ts_ms) and (hour >= 21 or hour < 5):
                rate += 3.0
        return rate

    def _quality(self, dev: dict[str, Any], ts_ms: int) -> dict[str, float]:
        rng = self._rng(dev["id"], ts_ms)
        base = QUALITY_BASE.get(dev.get("role") or "drinking", QUALITY_BASE["drinking"])
        days = (ts_ms - self.start_ms) / 86_400_000
        drift = math.sin(days / 5 + len(dev["id"]))  # slow drift over days
        out = {}
        for name, value in base.items():
            if name == "ph":
                v = value + 0.15 * drift + rng.gauss(0, 0.05)
            elif name == "temperature_c":
                v = value + (1.5 * drift if value > 40 else 2.0 * drift) + rng.gauss(0, 0.4)
            else:
                v = value * (1 + 0.15 * drift + rng.gauss(0, 0.05))
            out[name] = round(max(v, 0.0), 3)
        if "free_chlorine_mgl" in out and dev.get("role") == PURIFIED:
            out["free_chlorine_mgl"] = round(min(max(0.01 + 0.01 * drift + rng.gauss(0, 0.003), 0.0), 0.02), 3)
        elif "free_chlorine_mgl" in out:
            out["free_chlorine_mgl"] = max(out["free_chlorine_mgl"], 0.12)
        if "conductivity_uscm" not in out and "tds_mgl" in out:
            out["conductivity_uscm"] = round(out["tds_mgl"] * 1.55, 1)
        d = dev["id"]
        if self._has(d, "ph_excursion"):
            out["ph"] = round(9.1 + rng.gauss(0, 0.05), 3)
        if self._has(d, "turbidity_excursion"):
            out["turbidity_ntu"] = round(2.5 + abs(rng.gauss(0, 0.1)), 3)
        if self._has(d, "tds_high") and "tds_mgl" in out:
            out["tds_mgl"] = round(1250 + abs(rng.gauss(0, 20)), 1)
            out["conductivity_uscm"] = round(out["tds_mgl"] * 1.55, 1)
        if self._has(d, "chlorine_low"):
            out["free_chlorine_mgl"] = 0.01
        if self._has(d, "heater_cold"):
            out["temperature_c"] = round(44 + rng.gauss(0, 0.3), 2)
        return out

    # -- the stream --------------------------------------------------------------------
    def _device_readings(self, dev: dict[str, Any]) -> Iterator[tuple[int, dict[str, float]]]:
        interval = int(dev.get("interval_s", 900)) * 1000
        first = self.start_ms - self.start_ms % interval + interval  # aligned to the interval
        mult = float(dev.get("multiplier", 1.0))
        register = float(dev.get("initial_register", 0.0) or 0.0)
        d = dev["id"]
        prev = first - interval
        replaced = jumped = False
        for ts in range(first, self.end_ms, interval):
            if self._has(d, "device_offline") and ts >= self.half_ms:
                return
            rng = self._rng(d, ts)
            if dev["kind"] == "water_quality":
                yield ts, self._quality(dev, ts)
                continue
            rate = self._rate(dev, prev + interval // 2) * (1 + rng.gauss(0, 0.03))
            rate = max(rate, 0.0)
            register += rate * (ts - prev) / 3_600_000 / mult
            prev = ts
            if self._has(d, "meter_replaced") and not replaced and ts >= self.half_ms:
                replaced, register = True, 0.5
            reg = register
            if self._has(d, "implausible_jump") and not jumped and ts >= self.half_ms:
                jumped, reg = True, register + 50_000
            if dev["kind"] == "electricity":
                pf = round(0.92 + rng.uniform(-0.03, 0.03), 3)
                volts = round(220 + rng.gauss(0, 2), 1)
                yield ts, {"energy_kwh": round(reg, 4), "power_kw": round(rate, 3), "voltage_v": volts,
                           "current_a": round(rate * 1000 / (3 * volts * pf), 2), "power_factor": pf}
            else:
                yield ts, {"volume_m3": round(reg, 4), "flow_m3h": round(rate, 4)}

    def _tagged(self, index: int, dev: dict[str, Any]) -> Iterator[tuple[int, int, dict[str, float]]]:
        for ts, values in self._device_readings(dev):
            yield ts, index, values

    def _malformed(self, n: int, ts: int) -> Publication:
        dev = self.devices[n % len(self.devices)]
        variants = [
            (self.topic(dev["id"]), b'{"ts": 17000, "values": {'),                       # bad JSON
            (self.topic(dev["id"]), json.dumps({"ts": ts // 1000, "values": {"bogus_field": 1}}).encode()),
            (self.topic(dev["id"]), json.dumps({"ts": ts // 1000, "values": {"ph": 15}
                                                if dev["kind"] == "water_quality" else
                                                {"energy_kwh": -5, "volume_m3": -5}}).encode()),
            (self.topic(f"ghost-{n}"), json.dumps({"ts": ts // 1000, "values": {"volume_m3": 1}}).encode()),
            (f"{self.prefix}/other-site/{dev['id']}/reading", json.dumps({"ts": ts // 1000, "values": {}}).encode()),
        ]
        topic, payload = variants[n % len(variants)]
        return Publication(ts, topic, payload + b" " * (n // len(variants) % 7), dev["id"], "malformed")

    def publications(self) -> Iterator[Publication]:
        """Everything to publish, in order. Statuses first, then readings merged across devices."""
        for dev in self.devices:
            yield Publication(self.start_ms, self.topic(dev["id"], "status"), b"online", dev["id"], "status",
                              retain=True)
        streams = [self._tagged(i, dev) for i, dev in enumerate(self.devices)]
        merged = heapq.merge(*streams)
        held: list[tuple[int, dict[str, float]]] = []
        swap: dict[str, Publication] = {}
        count = malformed = 0
        backfill_dev = next((f.device for f in self.faults if f.name == "gateway_backfill"), None)
        offline_dev = next((f.device for f in self.faults if f.name == "device_offline"), None)
        offline_sent = False
        for ts, i, values in merged:
            dev = self.devices[i]
            d = dev["id"]
            if offline_dev and not offline_sent and ts >= self.half_ms:
                offline_sent = True
                yield Publication(ts, self.topic(offline_dev, "status"), b"offline", offline_dev, "disconnect")
            if d == backfill_dev and self.third_ms <= ts < self.half_ms:
                held.append((ts, values))
                continue
            if d == backfill_dev and held:
                body = json.dumps([{"ts": t, "seq": t // 1000, "values": v} for t, v in held]).encode()
                yield Publication(ts, self.topic(d), body, d, "batch", list(held))
                held = []
            count += 1
            iso = datetime.fromtimestamp(ts / 1000, self.tz).isoformat() if count % 3 == 0 else ts // 1000
            pub = Publication(ts, self.topic(d), json.dumps({"ts": iso, "seq": count, "values": values}).encode(),
                              d, "reading", [(ts, values)])
            rng = self._rng(d, ts, "delivery")
            if self._has(d, "malformed") and rng.random() < 1 / 150:
                malformed += 1
                yield self._malformed(malformed, ts)
            if self._has(d, "out_of_order") and d not in swap and rng.random() < 1 / 25:
                swap[d] = pub
                continue
            yield pub
            if d in swap:
                yield swap.pop(d)
            if self._has(d, "duplicates") and rng.random() < 1 / 40:
                yield Publication(ts, pub.topic, pub.payload, d, "duplicate", pub.readings)
        yield from swap.values()
        if held and backfill_dev:
            body = json.dumps([{"ts": t, "values": v} for t, v in held]).encode()
            yield Publication(self.end_ms, self.topic(backfill_dev), body, backfill_dev, "batch", list(held))

    def expected(self) -> dict[tuple[str, int], dict[str, float]]:
        """(device, ts) → values of every valid reading this run publishes (what the store must hold)."""
        out: dict[tuple[str, int], dict[str, float]] = {}
        for pub in self.publications():
            for ts, values in pub.readings:
                out[(pub.device, ts)] = values
        return out
