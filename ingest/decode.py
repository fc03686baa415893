"""Inbound MQTT messages → tagged readings, status changes and refusals.

Pure: no I/O but registry lookups, so the same path serves live ingest and dead-letter replay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import orjson

from ingest.contract import Channel, Reading, parse_item, parse_status, split_items
from ingest.deadletters import Refusal
from ingest.errors import PayloadError
from ingest.registry import Registry


class Inbound(NamedTuple):
    """An MQTT message as meterwatch sees it (the only type paho messages become; immutable)."""

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
        topic, tags = registry.resolve(msg.topic, prefix)
    except PayloadError as exc:
        return _refuse(msg, exc.reason)
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
        items, batch = split_items(msg.payload)
    except PayloadError as exc:
        return _refuse(msg, exc.reason)
    out = Decoded()
    for index, item in enumerate(items):
        try:
            ts, seq, values = parse_item(tags.kind, item, msg.received_ms)
        except PayloadError as exc:
            if not batch:
                return _refuse(msg, exc.reason)
            body = orjson.dumps(item)
            out.refusals.append(Refusal(msg.topic, body, f"batch item {index}: {exc.reason}",
                                        msg.received_ms, index, msg.dup))
            continue
        out.readings.append(Reading(topic.device, ts, tags.kind, tags.site, tags.building, tags.department,
                                    tags.zone, values, seq))
    return out
