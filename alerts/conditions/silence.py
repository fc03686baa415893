"""Silent meters and dead buses, with the gateway's reason in words.

A meter is *silent* when no reading came for longer than ``intervals`` × its interval (the ``stale`` rule's
test). It is silent *with a reason* when its gateway's last health message says its last poll failed
(``ok: false``). A *dead bus* is a gateway's bus all of whose meters are silent with a reason: then the wire, the
adapter or the DTU is the likely fault, not the meters, and one ``bus_silent`` alert names the gateway, the bus
and its meters, while the ``stale`` rule keeps quiet about each of them (an alert already open for one stays).
"""

from __future__ import annotations

from typing import Any, Literal

from alerts.conditions.base import CLEAR, Condition, Env, Observation, Sample, State, Verdict, register_condition
from campus.labels import Name
from campus.model import Device
from campus.silence import reason

BusKey = tuple[str, str]  # (gateway id, bus name)


def bus_of(dev: Device) -> BusKey | None:
    """The (gateway, bus) a meter is polled on, if the campus file says."""
    return (dev.gateway, dev.meter.bus) if dev.gateway and dev.meter is not None else None


def subject_of(key: BusKey) -> str:
    """A bus alert's subject: ``gateway/bus`` (ids cannot hold a slash)."""
    return f"{key[0]}/{key[1]}"


def silent(dev: Device, env: Env, now_ms: int, intervals: float) -> bool:
    last = env.seen.get(dev.id, {}).get("ts")
    return now_ms - max(last or 0, env.watching_since_ms) > intervals * dev.interval_s * 1000


def failing(dev: Device, env: Env) -> dict[str, Any] | None:
    """The meter's last health if its gateway says its last poll failed."""
    h = env.seen.get(dev.id, {}).get("health")
    return h if h is not None and not h["ok"] else None


def dead(meters: list[Device], env: Env, now_ms: int, intervals: float) -> bool:
    """Every meter silent with a reason (an empty bus is not dead)."""
    return bool(meters) and all(silent(d, env, now_ms, intervals) and failing(d, env) is not None for d in meters)


def meters_on(env: Env, key: BusKey) -> list[Device]:
    return [d for d in env.campus.devices if bus_of(d) == key]


def why(h: dict[str, Any]) -> Name:
    """A failed poll's reason in both languages."""
    return Name(zh=reason(False, h["code"], h["error"], "zh"), en=reason(False, h["code"], h["error"], "en"))


@register_condition("bus_silent")
class BusSilent(Condition):
    """Every meter on a gateway's bus silent for ``intervals`` × its interval, each with a failed poll: one alert
    for the bus, naming the gateway, the bus and the meters, with the newest reason. A reading from any of its
    meters clears it."""

    type: Literal["bus_silent"] = "bus_silent"
    intervals: float = 3.0
    scope = "bus"
    watches_clock = True
    stateful = False

    def observe(self, sample: Sample, state: State, env: Env) -> Observation | None:
        return CLEAR  # a meter of the bus answered

    def tick_bus(self, meters: list[Device], state: State, now_ms: int, env: Env) -> Observation | None:
        if not dead(meters, env, now_ms, self.intervals):
            return None
        key = bus_of(meters[0])
        assert key is not None  # noqa: S101 - the engine groups meters by bus_of
        gw = next((g for g in env.campus.gateways if g.id == key[0]), None)
        gw_name = (gw.name if gw is not None and gw.name else key[0])
        names = [d.name or d.id for d in meters]
        newest = max((failing(d, env) or {} for d in meters), key=lambda h: h.get("ts") or 0)
        last = why(newest)
        n, bus = len(meters), key[1]
        detail = Name(zh=f"{gw_name} 的 {bus} 上 {n} 块表都没有应答：{'、'.join(names)}。最近原因：{last.zh}",
                      en=f"no meter answers on {bus} of {gw_name}: {', '.join(names)}; last: {last.en}")
        texts = {"subject": Name(zh=f"{gw_name} · {bus}", en=f"{gw_name} · {bus}"), "detail": detail,
                 "reading": Name(zh=f"{n}/{n} 块表无应答", en=f"{n} of {n} meters silent")}
        return Observation(Verdict.FIRING, float(n), None, "", detail.en, texts)
