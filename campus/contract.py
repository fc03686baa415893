"""The public MQTT payload contract: topics, kinds, value fields, timestamps.

This is the only module that knows what a device may send. Simulators and gateways
follow the same contract (documented in the README) without importing it.

Topic:   {prefix}/{site}/{device}/reading   payload {"ts": ..., "seq": ..., "values": {...}} or a list of them
         {prefix}/{site}/{device}/status    payload "online" | "offline" (retained; Last Will)
         {prefix}/{site}/{device}/health    payload {"ts", "ok", "code", "error", "last_answer", "success_rate",
                                            "gateway", "bus"} (retained; the gateway's last poll of the meter)

Drills (a technical drill checks the path device → broker → ingest → alerts, storing nothing):
         {prefix}/{site}/{gateway}/drill            {"drill": ID, "device": DEVICE}: the gateway answers with one
                                                    reading of DEVICE, its payload one object plus "drill": ID
         {prefix}/{site}/drills/{ID}/ingest         {"device", "ok", "error"?}: ingest checked it, stored nothing
         {prefix}/{site}/drills/{ID}/alerts         {"device", "rules": [...]}: the alert engine saw it, moved nothing
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import (
    Annotated,
    Any,
    Literal,
    NamedTuple,
    Required,
)

import orjson
from pydantic import ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError
from typing_extensions import TypedDict  # pydantic needs this one, not typing's, on Python < 3.12

from campus.errors import PayloadError

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
_ID_RE = re.compile(ID_PATTERN)

MAX_PAYLOAD_BYTES = 256 * 1024
MAX_ITEMS = 10_000  # readings in one batch payload (a day of minute readings is 1,440)
MAX_FUTURE_S = 300
EARLIEST_TS_MS = 946_684_800_000  # 2000-01-01T00:00:00Z: older stamps are a device clock fault
INT64_MAX = 2**63 - 1
REGISTER_CEILING = 1e10  # a cumulative register at or above this (kWh, m³) is a decoding fault, not a meter
CAPACITY_FACTOR = 10.0  # instantaneous power or flow above this × the rated capacity is not plausible
MAX_TS_TEXT = 64


class Kind(StrEnum):
    ELECTRICITY = "electricity"
    WATER = "water"
    GAS = "gas"
    WATER_QUALITY = "water_quality"


_Finite = ConfigDict(extra="forbid", allow_inf_nan=False)
# Value schemas are TypedDicts: pydantic validates them to plain dicts, about 3x faster than models
# on the ingest hot path. Units are in the field names; ranges are physical limits. Numbers are strict:
# a JSON string ("12.5") or boolean (true) is not a number, whatever a lax parser would make of it.
Number = Annotated[float, Field(strict=True)]


class ElectricityValues(TypedDict, total=False):
    __pydantic_config__ = _Finite  # type: ignore[misc]
    energy_kwh: Required[Annotated[Number, Field(ge=0, description="forward active energy register (DL/T 645)")]]
    power_kw: Annotated[Number, Field(ge=-100_000, le=100_000)]
    voltage_v: Annotated[Number, Field(ge=0, le=100_000)]
    current_a: Annotated[Number, Field(ge=0, le=100_000)]
    power_factor: Annotated[Number, Field(ge=-1, le=1)]


class FlowValues(TypedDict, total=False):
    """Water and gas meters (CJ/T 188): a cumulative volume register and optional flow."""

    __pydantic_config__ = _Finite  # type: ignore[misc]
    volume_m3: Required[Annotated[Number, Field(ge=0, description="cumulative volume register")]]
    flow_m3h: Annotated[Number, Field(ge=0, le=100_000)]


class QualityValues(TypedDict, total=False):
    __pydantic_config__ = _Finite  # type: ignore[misc]
    ph: Annotated[Number, Field(ge=0, le=14)]
    turbidity_ntu: Annotated[Number, Field(ge=0, le=4000)]
    free_chlorine_mgl: Annotated[Number, Field(ge=0, le=100)]
    conductivity_uscm: Annotated[Number, Field(ge=0, le=200_000)]
    tds_mgl: Annotated[Number, Field(ge=0, le=100_000)]
    temperature_c: Annotated[Number, Field(ge=-50, le=150)]


VALUE_SCHEMAS: dict[Kind, type] = {
    Kind.ELECTRICITY: ElectricityValues,
    Kind.WATER: FlowValues,
    Kind.GAS: FlowValues,
    Kind.WATER_QUALITY: QualityValues,
}
KIND_FIELDS: dict[Kind, tuple[str, ...]] = {k: tuple(td.__annotations__) for k, td in VALUE_SCHEMAS.items()}
REGISTER_FIELD: dict[Kind, str | None] = {
    Kind.ELECTRICITY: "energy_kwh",
    Kind.WATER: "volume_m3",
    Kind.GAS: "volume_m3",
    Kind.WATER_QUALITY: None,
}
ALL_FIELDS: tuple[str, ...] = tuple(dict.fromkeys(f for fields in KIND_FIELDS.values() for f in fields))


class Channel(StrEnum):
    READING = "reading"
    STATUS = "status"
    HEALTH = "health"


@dataclass(frozen=True, slots=True)
class Topic:
    site: str
    device: str
    channel: Channel

    @classmethod
    def parse(cls, topic: str, prefix: str) -> Topic:
        parts = topic.split("/")
        head = prefix.split("/") if prefix else []
        if parts[: len(head)] != head or len(parts) != len(head) + 3:
            raise PayloadError(f"topic {topic!r} is not {prefix}/{{site}}/{{device}}/reading|status|health")
        site, device, channel = parts[len(head):]
        if not _ID_RE.match(site) or not _ID_RE.match(device):
            raise PayloadError(f"topic {topic!r}: site and device ids may use letters, digits, _ . -")
        try:
            return cls(site, device, Channel(channel))
        except ValueError:
            raise PayloadError(f"topic {topic!r}: last level must be 'reading', 'status' or 'health'") from None


class Reading(NamedTuple):
    """One validated, tagged reading (immutable). ``ts`` is epoch milliseconds (UTC).

    Built only by the decode path after validation; a NamedTuple because ingest makes
    tens of thousands a second.
    """

    device: str
    ts: int
    kind: Kind
    site: str
    building: str
    department: str
    zone: str
    values: dict[str, float]
    seq: int | None = None

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.ts / 1000, UTC)


class _Item(TypedDict, total=False):
    """One payload object: {"ts": ..., "seq": ..., "values": {...}}."""

    __pydantic_config__ = _Finite  # type: ignore[misc]
    ts: Annotated[int, Field(strict=True)] | Annotated[float, Field(strict=True)] | Annotated[
        str, Field(strict=True)] | None
    seq: Annotated[int, Field(strict=True, ge=0, le=INT64_MAX)] | None


class ElectricityItem(_Item):
    values: Required[ElectricityValues]


class FlowItem(_Item):
    values: Required[FlowValues]


class QualityItem(_Item):
    values: Required[QualityValues]


ITEM_SCHEMAS: dict[Kind, TypeAdapter[Any]] = {
    Kind.ELECTRICITY: TypeAdapter(ElectricityItem),
    Kind.WATER: TypeAdapter(FlowItem),
    Kind.GAS: TypeAdapter(FlowItem),
    Kind.WATER_QUALITY: TypeAdapter(QualityItem),
}
VALUE_ADAPTERS: dict[Kind, TypeAdapter[Any]] = {k: TypeAdapter(td) for k, td in VALUE_SCHEMAS.items()}


def parse_ts(raw: int | float | str | None, received_ms: int) -> int:
    """Epoch seconds, epoch milliseconds or ISO 8601 with offset → epoch ms; None → receive time."""
    if raw is None:
        return received_ms
    if type(raw) is int and EARLIEST_TS_MS // 1000 <= raw <= received_ms // 1000 + MAX_FUTURE_S:
        return raw * 1000  # the common case: epoch seconds, plausible
    if isinstance(raw, bool):
        raise PayloadError(f"ts={raw!r}: expected epoch seconds, epoch ms or ISO 8601")
    if isinstance(raw, str) and len(raw) > MAX_TS_TEXT:
        raise PayloadError(f"ts={shorten(raw)!r} is not ISO 8601 (e.g. 2026-11-22T08:00:00+08:00)")
    if isinstance(raw, int | float):
        if not math.isfinite(raw):
            raise PayloadError(f"ts={raw!r} is not a finite number")
        ts_ms = int(round(raw * 1000)) if abs(raw) < 1e11 else int(round(raw))
    else:
        try:
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except (ValueError, OverflowError):
            raise PayloadError(f"ts={raw!r} is not ISO 8601 (e.g. 2026-11-22T08:00:00+08:00)") from None
        if dt.tzinfo is None:
            raise PayloadError(f"ts={raw!r} has no UTC offset; add one, e.g. +08:00")
        ts_ms = int(round(dt.timestamp() * 1000))
    if ts_ms < EARLIEST_TS_MS:
        raise PayloadError(f"ts={raw!r} is before 2000-01-01: check the device clock")
    if ts_ms > received_ms + MAX_FUTURE_S * 1000:
        raise PayloadError(f"ts={raw!r} is more than {MAX_FUTURE_S // 60} minutes in the future")
    return ts_ms


def shorten(text: str, limit: int = 60) -> str:
    """A hostile value shown in a reason: at most ``limit`` characters, always valid UTF-8."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= limit else f"{text[:limit]}…({len(text)} chars)"


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(shorten(str(p), 40) for p in err["loc"]) or "payload"
        value = err.get("input")
        shown = "" if isinstance(value, dict | list) else f"={shorten(repr(value))}"
        parts.append(f"{loc}{shown}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _checked_values(kind: Kind, values: dict[str, float]) -> dict[str, float]:
    if not values:
        raise PayloadError(f"values for a {kind} device: at least one of {', '.join(KIND_FIELDS[kind])}")
    return values


def validate_values(kind: Kind, values: dict[str, Any]) -> dict[str, float]:
    try:
        parsed = VALUE_ADAPTERS[kind].validate_python(values)
    except ValidationError as exc:
        raise PayloadError(f"values for a {kind} device: {_describe(exc)}") from exc
    return _checked_values(kind, parsed)


class Unreadable(NamedTuple):
    """A batch item the document held but the contract cannot take as a value: refused alone, with ``reason``."""

    reason: str


def split_items(payload: bytes) -> tuple[list[Any], bool]:
    """Decode JSON → (items, is_batch); a single object becomes a list of one.

    orjson refuses the whole document for a number beyond a double (``1e400``) or a lone surrogate escape
    (``"\\ud800"``), though both are valid JSON by RFC 8259's grammar; such a document is read again by
    :func:`_read_leniently`, and each item holding one becomes an :class:`Unreadable`, which
    :func:`parse_item` refuses alone: the batch's other items are taken as usual."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"payload of {len(payload)} bytes is over the {MAX_PAYLOAD_BYTES} byte limit")
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        doc = _read_leniently(payload, exc)
    if isinstance(doc, dict | Unreadable):
        return [doc], False
    if isinstance(doc, list) and doc:
        if len(doc) > MAX_ITEMS:
            raise PayloadError(f"batch of {len(doc)} items is over the {MAX_ITEMS} item limit: send smaller batches")
        return doc, True
    raise PayloadError("payload must be a JSON object or a non-empty array of objects")


def _read_leniently(payload: bytes, refused: orjson.JSONDecodeError) -> Any:
    """The document as Python's standard parser reads it (``1e400`` → inf, lone surrogates kept), with each
    item (or the single object) holding what no reading can hold replaced by an :class:`Unreadable`. Bytes
    that are not UTF-8, NaN or Infinity literals and anything else that is not JSON stay refused whole."""
    try:
        doc = json.loads(payload.decode("utf-8"), parse_constant=_no_constant, parse_int=_integer)
    except RecursionError:
        raise PayloadError(f"payload is not JSON: {refused}") from None  # orjson's words: its depth limit
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise PayloadError(f"payload is not JSON: {shorten(str(exc), 200)}") from None
    if isinstance(doc, list):
        return [_checked(item) for item in doc]
    return _checked(doc)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _integer(text: str) -> int | float:
    """As orjson reads integers: past 64 bits, a double (and past a double's range, inf)."""
    if len(text) <= 20:
        value = int(text)
        if -(2**63) <= value < 2**64:
            return value
    return float(text)


def _checked(item: Any) -> Any:
    """``item``, or an :class:`Unreadable` naming the first number beyond a double or lone surrogate in it."""
    stack: list[tuple[str, Any]] = [("", item)]
    while stack:
        where, value = stack.pop()
        at = f" at {where}" if where else ""
        if isinstance(value, float) and not math.isfinite(value):
            return Unreadable(f"a number{at} is beyond a double's range (like 1e400): send finite numbers")
        if isinstance(value, str) and _SURROGATE.search(value):
            return Unreadable(f"a string{at} holds a lone surrogate escape (like \\ud800), which is not "
                              f"Unicode text: fix the gateway's JSON encoder")
        if isinstance(value, dict):
            for key, inner in value.items():
                if _SURROGATE.search(key):
                    return Unreadable(f"a key{at} holds a lone surrogate escape (like \\ud800), which is not "
                                      f"Unicode text: fix the gateway's JSON encoder")
                stack.append((f"{where}.{shorten(key, 40)}" if where else shorten(key, 40), inner))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", inner) for i, inner in enumerate(value))
    return item


_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Limits:
    """Plausibility bounds beyond the physical ranges of the value schemas (``[ingest]`` settings)."""

    register_ceiling: float = REGISTER_CEILING
    capacity_factor: float = CAPACITY_FACTOR


DEFAULT_LIMITS = Limits()
_RATE_FIELD = {Kind.ELECTRICITY: "power_kw", Kind.WATER: "flow_m3h", Kind.GAS: "flow_m3h"}


def check_plausible(kind: Kind, values: dict[str, float], limits: Limits = DEFAULT_LIMITS,
                    rated_capacity: float | None = None) -> None:
    """Domain rules the schemas cannot state:

    - a cumulative register at or above ``register_ceiling`` (default 10^10 kWh or m³) is refused: no campus
      meter counts that far, and a float that large has lost the precision a 15-minute step needs;
    - with a rated capacity, an instantaneous power or flow above ``capacity_factor`` × that capacity is
      refused as a decoding fault (meters report power and flow on the primary side, so the CT/PT
      multiplier, which scales register deltas, does not apply).
    """
    register = REGISTER_FIELD[kind]
    if register is not None and values.get(register, 0.0) >= limits.register_ceiling:
        raise PayloadError(f"{register}={values[register]!r} is at or above the register ceiling "
                           f"{limits.register_ceiling:g} ([ingest] register_ceiling): check the meter's scaling")
    rate = _RATE_FIELD.get(kind)
    if rated_capacity is not None and rate is not None and rate in values:
        if abs(values[rate]) > limits.capacity_factor * rated_capacity:
            raise PayloadError(f"{rate}={values[rate]!r} is over "
                               f"{limits.capacity_factor:g} × the rated capacity {rated_capacity:g}: "
                               f"check the meter's scaling")


def parse_item(kind: Kind, item: Any, received_ms: int, limits: Limits = DEFAULT_LIMITS,
               rated_capacity: float | None = None) -> tuple[int, int | None, dict[str, float]]:
    """One payload object of a ``kind`` device → (ts_ms, seq, values)."""
    if isinstance(item, Unreadable):
        raise PayloadError(item.reason)
    if not isinstance(item, dict):
        raise PayloadError(f"batch item is {type(item).__name__}, expected an object with 'values'")
    try:
        parsed = ITEM_SCHEMAS[kind].validate_python(item)
    except ValidationError as exc:
        raise PayloadError(f"{kind} device: {_describe(exc)}") from exc
    values = _checked_values(kind, parsed["values"])
    check_plausible(kind, values, limits, rated_capacity)
    return parse_ts(parsed.get("ts"), received_ms), parsed.get("seq"), values


def parse_status(payload: bytes) -> bool:
    text = payload.decode("utf-8", "replace").strip().lower()
    if text not in ("online", "offline"):
        raise PayloadError(f"status payload {shorten(text, 40)!r}: expected 'online' or 'offline'")
    return text == "online"


# -- health: the gateway's word on why a meter answers or not -------------------------------------------------
# The codes are the field bus's read failures (gateway.bus.ReadFailed.code); the README's MQTT contract lists them.
HEALTH_CODES = ("no_answer", "checksum", "garbled", "abnormal", "wrong_address", "link_down")
MAX_HEALTH_BYTES = 4096  # a health message is one small object; anything larger is not one
MAX_ERROR_CHARS = 300


class Health(NamedTuple):
    """A meter's health as its gateway last published it (immutable). Times are epoch milliseconds (UTC)."""

    ts: int
    ok: bool
    code: str | None
    error: str | None
    last_answer: int | None
    success_rate: float | None
    gateway: str
    bus: str


class _HealthDoc(TypedDict, total=False):
    __pydantic_config__ = ConfigDict(extra="ignore", allow_inf_nan=False)  # type: ignore[misc]
    ts: Annotated[int, Field(strict=True)] | None
    ok: Required[Annotated[bool, Field(strict=True)]]
    code: Annotated[str, Field(strict=True, max_length=32)] | None
    error: Annotated[str, Field(strict=True)] | None
    last_answer: Annotated[int, Field(strict=True)] | None
    success_rate: Annotated[float, Field(strict=True, ge=0, le=1)] | None
    gateway: Required[Identifier]
    bus: Required[Identifier]


_HEALTH = TypeAdapter(_HealthDoc)


def _epoch_s(name: str, raw: int | None, received_ms: int) -> int | None:
    """Epoch seconds (the health contract has no other form) → ms, within 2000-01-01 … now + 5 min."""
    if raw is None:
        return None
    if not EARLIEST_TS_MS // 1000 <= raw <= received_ms // 1000 + MAX_FUTURE_S:
        raise PayloadError(f"health {name}={raw!r}: expected epoch seconds between 2000-01-01 and "
                           f"{MAX_FUTURE_S // 60} minutes from now: check the gateway's clock")
    return raw * 1000


def parse_health(payload: bytes, received_ms: int) -> Health:
    """A health payload → :class:`Health`, or PayloadError saying what to fix. Rules:

    - one JSON object of at most 4 KiB; unknown keys are ignored (a newer gateway may say more);
    - ``ok`` (true/false), ``gateway`` and ``bus`` (ids) are required;
    - ``ts`` and ``last_answer`` are epoch seconds from 2000 to five minutes from now, or null (``ts`` null: the
      time it arrived); ``last_answer`` is not after ``ts``;
    - ``success_rate`` is 0..1 or null (no polls yet);
    - ``code`` is one of :data:`HEALTH_CODES` when ``ok`` is false and null when it is true;
    - ``error`` is the gateway's words, none when ``ok`` is true; longer than 300 characters, it is shortened
      (the health is still worth keeping).
    """
    doc = _bounded_json(payload, MAX_HEALTH_BYTES, "health payload", 200)
    if not isinstance(doc, dict):
        raise PayloadError("health payload must be one JSON object: {\"ts\", \"ok\", \"code\", \"error\", "
                           "\"last_answer\", \"success_rate\", \"gateway\", \"bus\"}")
    try:
        parsed = _HEALTH.validate_python(doc)
    except ValidationError as exc:
        raise PayloadError(f"health: {_describe(exc)}") from exc
    ts = _epoch_s("ts", parsed.get("ts"), received_ms) or received_ms
    last = _epoch_s("last_answer", parsed.get("last_answer"), received_ms)
    if last is not None and last > ts:
        raise PayloadError(f"health last_answer={last // 1000} is after ts={ts // 1000}: a meter cannot have "
                           "answered after the report")
    ok, code, error = parsed["ok"], parsed.get("code"), parsed.get("error")
    if ok and (code is not None or error):
        raise PayloadError("health ok=true with a code or error: send code null and no error when the meter answers")
    if not ok and code not in HEALTH_CODES:
        raise PayloadError(f"health code={shorten(repr(code), 40)}: with ok=false expected one of "
                           f"{', '.join(HEALTH_CODES)}")
    if error is not None:
        error = shorten(error.strip(), MAX_ERROR_CHARS) or None
    return Health(ts, ok, code, error, last, parsed.get("success_rate"), parsed["gateway"], parsed["bus"])


# -- drills: a reading tagged {"drill": ID} is checked like any other and never stored ------------------------------
DRILL_ID_PATTERN = r"[A-Za-z0-9-]{1,40}"  # a topic level: no / + # $, short
_DRILL_RE = re.compile(DRILL_ID_PATTERN)
DRILL_KEY = "drill"
MAX_DRILL_REQUEST_BYTES = 512  # {"drill": 40 characters, "device": 64}: anything larger is not a request
DrillStage = Literal["ingest", "alerts"]


def drill_id(raw: Any) -> str:
    """A drill id from the wire (hostile), or PayloadError: 1-40 of A-Z a-z 0-9 and -, a topic level as it is."""
    if not isinstance(raw, str) or not _DRILL_RE.fullmatch(raw):
        raise PayloadError(f"drill id {shorten(repr(raw), 60)}: expected 1-40 letters, digits or '-'")
    return raw


def drill_request_topic(prefix: str, site: str, gateway: str) -> str:
    """Where a gateway hears drill requests for its devices."""
    return f"{prefix}/{site}/{gateway}/drill"


def drill_topic(prefix: str, site: str, drill: str, stage: DrillStage) -> str:
    """Where ``stage`` (ingest, alerts) says it saw drill ``drill``'s reading."""
    return f"{prefix}/{site}/drills/{drill_id(drill)}/{stage}"


def _bounded_json(payload: bytes, limit: int, what: str, said: int) -> Any:
    """A small JSON document off the wire: refused past ``limit`` bytes before it is read, or when it is not JSON
    (the parser's words shortened to ``said`` characters)."""
    if len(payload) > limit:
        raise PayloadError(f"{what} of {len(payload)} bytes is over the {limit} byte limit")
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"{what} is not JSON: {shorten(str(exc), said)}") from None


def parse_drill_request(payload: bytes) -> tuple[str, str]:
    """``{"drill": ID, "device": DEVICE}`` → (ID, DEVICE), or PayloadError: at most 512 bytes, one JSON object with
    exactly those two keys, a drill id and a device id."""
    doc = _bounded_json(payload, MAX_DRILL_REQUEST_BYTES, "drill request", 120)
    if not isinstance(doc, dict) or set(doc) != {DRILL_KEY, "device"}:
        raise PayloadError('drill request must be one JSON object {"drill": ID, "device": DEVICE}')
    device = doc["device"]
    if not isinstance(device, str) or not _ID_RE.fullmatch(device):
        raise PayloadError(f"drill request device {shorten(repr(device), 80)}: not a device id")
    return drill_id(doc[DRILL_KEY]), device
