"""The XML messages of the 导则's transmission protocol (能耗数据远传), made and read.

Every message is ``<root><common><building_id/><gateway_id/><type/></common>`` and one of:

- ``<id_validate operation="request|sequence|md5|result">`` with ``<sequence>``, ``<md5>``, ``<result>pass|fail``;
- ``<heart_beat operation="notify|time">`` (``<time>YYYYMMDDHHMMSS</time>`` in the centre's answer);
- ``<data operation="report|continuous">``: ``<sequence>``, ``<parser>yes</parser>``, ``<time>``, the building's
  ``<energy_items><energy_item code unit>`` and its ``<meter id name><function id coding unit error>``; answered by
  ``<data operation="report_ack|continuous_ack">`` with ``<sequence>`` and ``<ack>pass|fail</ack>``.

``common/type`` is the operation. Reading is bounded and safe: at most the frame's bytes, a document type
declaration (and with it any entity, internal or external: no XXE, no entity expansion) is refused, at most 10
levels deep, and every malformed part is a WireError saying what is wrong.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - only building trees here; parsing goes through _parse below
from dataclasses import dataclass, field
from xml.parsers import expat

from upload.packet import Item, Meter, Packet, number

OPERATIONS = {"id_validate": {"request", "sequence", "md5", "result"}, "heart_beat": {"notify", "time"},
              "data": {"report", "continuous", "report_ack", "continuous_ack"}}
FIELDS = ("sequence", "md5", "result", "time", "ack", "parser")
MAX_DEPTH = 10
MAX_TEXT = 256


class WireError(ValueError):
    """A message that is not one of the protocol's: the text says what is wrong."""


@dataclass(frozen=True, slots=True)
class Message:
    element: str                 # id_validate | heart_beat | data
    operation: str
    building_id: str = ""
    gateway_id: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    packet: Packet | None = None  # data report/continuous


def _common(root: ET.Element, m: Message) -> None:
    common = ET.SubElement(root, "common")
    ET.SubElement(common, "building_id").text = m.building_id
    ET.SubElement(common, "gateway_id").text = m.gateway_id
    ET.SubElement(common, "type").text = m.operation


def to_xml(m: Message) -> bytes:
    root = ET.Element("root")
    _common(root, m)
    body = ET.SubElement(root, m.element, operation=m.operation)
    for name in FIELDS:
        if name in m.fields:
            ET.SubElement(body, name).text = m.fields[name]
    p = m.packet
    if p is not None:
        if "time" not in m.fields:
            ET.SubElement(body, "time").text = p.time
        ET.SubElement(body, "period", minutes=str(p.minutes))
        items = ET.SubElement(body, "energy_items")
        for it in p.items:
            ET.SubElement(items, "energy_item", code=it.code, unit=it.unit).text = repr(it.value)
        for k, mt in enumerate(p.meters, 1):
            meter = ET.SubElement(body, "meter", id=mt.id, name=mt.name, seq=str(k))
            ET.SubElement(meter, "function", id="1", coding=mt.code, unit=mt.unit, error="0",
                          coverage=repr(mt.coverage)).text = repr(mt.value)
    return b'<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def _refuse_dtd(*_: object) -> int:
    raise WireError("a document type declaration (<!DOCTYPE …>) is not allowed: entities are never expanded")


def _parse(data: bytes) -> ET.Element:
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()
    depth = [0]

    def start(tag: str, attrs: dict[str, str]) -> None:
        depth[0] += 1
        if depth[0] > MAX_DEPTH:
            raise WireError(f"elements nested deeper than {MAX_DEPTH}")
        builder.start(tag, attrs)

    def end(tag: str) -> None:
        depth[0] -= 1
        builder.end(tag)

    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = _refuse_dtd
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
        return builder.close()
    except expat.ExpatError as exc:
        raise WireError(f"not well-formed XML: {expat.errors.messages.get(exc.code, 'error')} "
                        f"at line {exc.lineno}, column {exc.offset}") from None
    except WireError:
        raise
    except (AssertionError, IndexError):  # the tree builder's own checks: a second root and the like
        raise WireError("not one XML document") from None
    except (LookupError, ValueError) as exc:  # an encoding Python does not know, and the like
        raise WireError(f"not readable XML: {str(exc)[:80]}") from None


def _text(el: ET.Element | None, what: str, *, limit: int = MAX_TEXT) -> str:
    text = "" if el is None or el.text is None else el.text.strip()
    if len(text) > limit:
        raise WireError(f"{what} is {len(text)} characters, more than {limit}")
    return text


def from_xml(data: bytes) -> Message:
    root = _parse(data)
    if root.tag != "root":
        raise WireError(f"the document's element is <{root.tag[:40]}>, not <root>")
    common = root.find("common")
    if common is None:
        raise WireError("<common> is missing (building_id, gateway_id, type)")
    body = next((el for el in root if el.tag in OPERATIONS), None)
    if body is None:
        raise WireError("no <id_validate>, <heart_beat> or <data> element")
    operation = body.get("operation") or _text(common.find("type"), "type")
    if operation not in OPERATIONS[body.tag]:
        raise WireError(f"<{body.tag}> operation {operation[:40]!r} is not one of "
                        f"{', '.join(sorted(OPERATIONS[body.tag]))}")
    fields = {name: _text(body.find(name), name) for name in FIELDS if body.find(name) is not None}
    m = Message(body.tag, operation, _text(common.find("building_id"), "building_id", limit=32),
                _text(common.find("gateway_id"), "gateway_id", limit=32), fields)
    if body.tag == "data" and operation in ("report", "continuous"):
        return Message(m.element, m.operation, m.building_id, m.gateway_id, m.fields, _packet(m, body))
    return m


def _packet(m: Message, body: ET.Element) -> Packet:
    time = m.fields.get("time", "")
    if not (len(time) == 14 and time.isascii() and time.isdigit()):
        raise WireError(f"<time> {time[:20]!r} is not YYYYMMDDHHMMSS")
    period = body.find("period")
    try:
        minutes = int(period.get("minutes", "0") if period is not None else "0")
    except ValueError:
        raise WireError("<period minutes> is not a whole number") from None
    if not 1 <= minutes <= 1440:
        raise WireError(f"<period minutes> {minutes} is not 1–1440")
    try:
        items = tuple(Item(_attr(el, "code"), _attr(el, "unit"), number(_text(el, "energy_item"), "energy_item"))
                      for el in body.iterfind("energy_items/energy_item"))
        meters = []
        for el in body.iterfind("meter"):
            fn = el.find("function")
            if fn is None:
                raise WireError(f"meter {_attr(el, 'id')!r} has no <function>")
            meters.append(Meter(_attr(el, "id"), _attr(el, "name"), _attr(fn, "coding"), _attr(fn, "unit"),
                                number(_text(fn, "function"), "function"),
                                number(fn.get("coverage", "1"), "coverage")))
    except ValueError as exc:
        raise WireError(str(exc)) from None
    # the centre knows the period by its start and length; site and campus id are the gateway's business
    return Packet("", "", m.building_id, m.gateway_id, 0, minutes * 60_000, time, items, tuple(meters))


def _attr(el: ET.Element, name: str) -> str:
    value = el.get(name)
    if value is None:
        raise WireError(f"<{el.tag}> has no {name}=")
    if len(value) > MAX_TEXT:
        raise WireError(f"<{el.tag} {name}> is {len(value)} characters, more than {MAX_TEXT}")
    return value
