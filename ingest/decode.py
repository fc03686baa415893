"""Inbound MQTT messages → tagged readings, status changes and refusals.

Pure: no I/O but registry lookups, so the same path serves live ingest and dead-letter replay.

One message gives at most one refusal. A batch payload whose items are partly refused keeps its
good readings and becomes one dead letter holding the whole payload, with each refused item's
index and reason inside it. Any failure while decoding one message, foreseen or not, is that
message's refusal: it never escapes to stop the messages around it. Failures of our own storage
(SQLite, the disk) are not the message's fault and do escape, so the batch stays unacknowledged.

A drill reading (one object on a reading topic, tagged ``"drill": ID``) is checked like any other and becomes a
:class:`Drill`, never a reading: nothing stores it, nothing evaluates it, and a refused one is said in the drill's
answer (``error``), never kept as a dead letter: a dead letter is kept to be replayed into the store, and a drill's
reading must never reach it. A bad drill id is a bad payload (a dead letter, as any); so is a drill tag inside a
batch item (a drill reading travels alone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from campus.contract import (
    DEFAULT_LIMITS,
    DRILL_KEY,
    Channel,
    Health,
    Limits,
    Reading,
    drill_id,
    parse_health,
    parse_item,
    parse_status,
    shorten,
    split_items,
)
from campus.errors import HOLD, PayloadError
from campus.registry import DeviceTags, Registry
from ingest.deadletters import Refusal

MAX_ITEM_REASONS = 20  # every refused batch item's index is kept; the reasons of the first 20


class Inbound(NamedTuple):
    """An MQTT message as meterwatch sees it (the only type paho messages become; immutable)."""

    topic: str
    payload: bytes
    received_ms: int
    mid: int = 0
    qos: int = 0
    dup: bool = False
    retain: bool = False


class Drill(NamedTuple):
    """A drill's reading as ingest and the alert engine see it (never stored, never evaluated). ``error``: why it
    would have been refused; None: it would have been taken."""

    site: str
    drill: str
    device: str
    error: str | None = None


@dataclass(slots=True)
class Decoded:
    readings: list[Reading] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    statuses: list[tuple[tuple[str, str], bool]] = field(default_factory=list)  # ((site, device), online): one,
    # or every device of a gateway whose own status (its Last Will) this is
    health: tuple[tuple[str, str], Health] | None = None  # ((site, device), the gateway's last poll of it)
    positions: list[int] = field(default_factory=list)  # each reading's item index in its payload
    drill: Drill | None = None  # a drill's reading: checked, never a reading


def refuse(msg: Inbound, reason: str, items: tuple[tuple[int, str | None], ...] = ()) -> Refusal:
    return Refusal(msg.topic, msg.payload, reason, msg.received_ms, items, msg.dup)


def _refused(msg: Inbound, reason: str) -> Decoded:
    return Decoded(refusals=[refuse(msg, reason)])


def failure(exc: BaseException) -> str:
    """An unforeseen exception as a dead letter's reason."""
    return f"internal error while decoding ({type(exc).__name__}: {shorten(str(exc), 200)}); " \
           f"kept for replay once fixed"


def decode(msg: Inbound, registry: Registry, prefix: str, limits: Limits = DEFAULT_LIMITS) -> Decoded:
    try:
        return _decode(msg, registry, prefix, limits)
    except HOLD:
        raise  # our storage, not this message: the caller holds the batch unacknowledged
    except Exception as exc:  # noqa: BLE001 - whatever one message does, it stops nothing else
        return _refused(msg, failure(exc))


def _gateway_devices(registry: Registry, site: str, gateway: str) -> list[str] | None:
    """The devices a gateway of ``site`` publishes for (None: no such gateway there)."""
    campus = registry.campuses.get(site)
    if campus is None or not any(g.id == gateway for g in campus.gateways):
        return None
    return [d.id for d in campus.devices if d.gateway == gateway]


def _decode(msg: Inbound, registry: Registry, prefix: str, limits: Limits) -> Decoded:
    try:
        topic, tags = registry.resolve(msg.topic, prefix)
    except PayloadError as exc:
        return _refused(msg, exc.reason)
    if tags is None and topic.channel is Channel.STATUS:
        served = _gateway_devices(registry, topic.site, topic.device)
        if served is not None:  # a gateway's own status, its Last Will: it speaks for every device it reads
            try:
                online = parse_status(msg.payload)
            except PayloadError as exc:
                return _refused(msg, exc.reason)
            return Decoded(statuses=[((topic.site, dev), online) for dev in served])
    if tags is None:
        here = registry.campuses.get(topic.site)
        computed = next((d for d in here.devices if d.id == topic.device and d.virtual is not None), None) if here \
            else None
        if computed is not None:
            return _refused(msg, f"device {topic.device!r} in site {topic.site!r} is a virtual meter, computed as "
                                 f"{(computed.virtual or '')[:200]!r}: it takes no readings; publish for its terms, "
                                 f"or fix the gateway's topic")
        elsewhere = [c.site.id for c, _ in registry.locate(topic.device)]
        if elsewhere:
            return _refused(msg, f"device {topic.device!r} belongs to site {', '.join(elsewhere)}, "
                                 f"not {topic.site!r}: fix the gateway's topic")
        return _refused(msg, f"unknown device {topic.device!r} in site {topic.site!r}: add it to that site's "
                             f"campus file or 'meterwatch devices import', or fix the gateway's topic; then replay "
                             f"this dead letter")
    if topic.channel is Channel.STATUS:
        try:
            return Decoded(statuses=[((topic.site, topic.device), parse_status(msg.payload))])
        except PayloadError as exc:
            return _refused(msg, exc.reason)
    if topic.channel is Channel.HEALTH:
        try:
            health = parse_health(msg.payload, msg.received_ms)
            _check_publisher(registry, topic.site, topic.device, health)
        except PayloadError as exc:
            return _refused(msg, exc.reason)
        return Decoded(health=((topic.site, topic.device), health))
    try:
        items, batch = split_items(msg.payload)
    except PayloadError as exc:
        return _refused(msg, exc.reason)
    if not batch and isinstance(items[0], dict) and DRILL_KEY in items[0]:
        return _drill(msg, topic.site, topic.device, tags, items[0], limits)
    out = Decoded()
    refused: list[tuple[int, str]] = []
    for index, item in enumerate(items):
        if isinstance(item, dict) and DRILL_KEY in item:
            refused.append((index, "a drill reading travels alone (one object), never as a batch item"))
            continue
        try:
            ts, seq, values = parse_item(tags.kind, item, msg.received_ms, limits, tags.rated_capacity)
        except PayloadError as exc:
            refused.append((index, exc.reason))
            continue
        except HOLD:
            raise
        except Exception as exc:  # noqa: BLE001
            refused.append((index, failure(exc)))
            continue
        out.readings.append(Reading(topic.device, ts, tags.kind, tags.site, tags.building, tags.department,
                                    tags.zone, values, seq))
        out.positions.append(index)
    if refused:
        if not batch:
            out.refusals.append(refuse(msg, refused[0][1]))
        else:
            shown = "; ".join(f"item {i}: {reason}" for i, reason in refused[:3])
            more = f"; and {len(refused) - 3} more" if len(refused) > 3 else ""
            out.refusals.append(refuse(msg, f"{len(refused)} of {len(items)} batch items refused "
                                            f"(the others were stored): {shown}{more}",
                                       tuple((i, reason if n < MAX_ITEM_REASONS else None)
                                             for n, (i, reason) in enumerate(refused))))
    return out


def _drill(msg: Inbound, site: str, device: str, tags: DeviceTags, item: dict[str, object],
           limits: Limits) -> Decoded:
    try:
        drill = drill_id(item[DRILL_KEY])
    except PayloadError as exc:
        return _refused(msg, f"{exc.reason} (a drill reading's tag): refused like any bad payload")
    error: str | None = None
    try:
        parse_item(tags.kind, {k: v for k, v in item.items() if k != DRILL_KEY}, msg.received_ms, limits,
                   tags.rated_capacity)
    except PayloadError as exc:
        error = exc.reason
    except HOLD:
        raise
    except Exception as exc:  # noqa: BLE001 - said in the drill's answer, like a refusal
        error = failure(exc)
    return Decoded(drill=Drill(site, drill, device, error))


def _check_publisher(registry: Registry, site: str, device: str, health: Health) -> None:
    """A health message names the gateway that polled and the bus: they must be the registry's for the device
    (the broker's ACL lets only that gateway publish the topic; a mismatch is a gateway on an old device list)."""
    dev = registry.device(device, site)
    publisher = dev.gateway or dev.id
    if health.gateway != publisher:
        raise PayloadError(f"health of {device!r} says gateway {health.gateway!r}, but the registry has it on "
                           f"{publisher!r}: fix the device's gateway in the campus file, or the gateway's device list")
    if dev.meter is not None and health.bus != dev.meter.bus:
        raise PayloadError(f"health of {device!r} says bus {health.bus!r}, but the registry has it on bus "
                           f"{dev.meter.bus!r}: fix the device's meter link, or the gateway's device list")
