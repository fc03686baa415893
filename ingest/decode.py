"""Inbound MQTT messages → tagged readings, status changes and refusals.

Pure: no I/O but registry lookups, so the same path serves live ingest and dead-letter replay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ingest.contract import Channel, Reading, Topic, parse_item, parse_status, split_items, validate_values
from ingest.deadletters import Refusal
from ingest.errors import PayloadError
from ingest.registry import Registry


@dataclass(frozen=True, slots=True)
class Inbound:
    """An MQTT message as meterwatch sees it (the only type paho messages become)."""

    topic: str
    payload: bytes
    received_ms: int
    mid: int = 0
    qos: int = 0
    dup: bool = False
    retain: bool = False


@dataclass(slots=True)
class Decoded:
    readings: list[Reading] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    status: tuple[str, bool] | None = None


def _refuse(msg: Inbound, reason: str, payload: bytes | None = None, index: int | None = None) -> Decoded:
    return Decoded(refusals=[Refusal(msg.topic, msg.payload if payload is None else payload, reason,
                                     msg.received_ms, index, msg.dup)])


def decode(msg: Inbound, registry: Registry, prefix: str) -> Decoded:
    try:
        topic = Topic.parse(msg.topic, prefix)
    except PayloadError as exc:
        return _refuse(msg, exc.reason)
    tags = registry.tags(topic.device)
    if tags is None:
        return _refuse(msg, f"unknown device {topic.device!r}: add it to the campus file or "
                            f"'meterwatch devices import', then replay this dead letter")
    if tags.site != topic.site:
        return _refuse(msg, f"device {topic.device!r} belongs to site {tags.site!r}, "
                            f"not {topic.site!r}: fix the gateway's topic")
    if topic.channel is Channel.STATUS:
        try:
            return Decoded(status=(topic.device, parse_status(msg.payload)))
        except PayloadError as exc:
            return _refuse(msg, exc.reason)
    try:
        items = split_items(msg.payload)
    except PayloadError as exc:
        return _refuse(msg, exc.reason)
    out = Decoded()
    single = len(items) == 1 and msg.payload.lstrip()[:1] == b"{"
    for index, item in enumerate(items):
        try:
            ts, seq, raw = parse_item(item, msg.received_ms)
            values = validate_values(tags.kind, raw)
        except PayloadError as exc:
            if single:
                return _refuse(msg, exc.reason)
            body = json.dumps(item, ensure_ascii=False).encode()
            out.refusals.append(Refusal(msg.topic, body, f"batch item {index}: {exc.reason}",
                                        msg.received_ms, index, msg.dup))
            continue
        out.readings.append(Reading(topic.device, ts, tags.kind, tags.site, tags.building, tags.department,
                                    tags.zone, values, seq))
    return out
