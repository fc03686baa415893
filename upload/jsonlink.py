"""The HTTPS/JSON profile: the same packets, from the same outbox, POSTed to ``[upload] url`` one at a time.

A request body is ``{"common": {building_id, gateway_id, centre_id, type}, "validate": {sequence, md5},
"data": {…}}``: ``type`` is report or continuous, ``validate`` carries a fresh random sequence and the MD5 of it
followed by the key (the id_validate rule, in one step, since HTTP keeps no connection), and ``data`` is the
packet (sequence, time, period minutes, energy_items, meters) — or, with ``aes`` on, ``data_aes``: the same JSON
AES-128-encrypted, base64. The centre answers 200 with ``{"sequence": …, "ack": "pass"}``; 401/403 is
AuthRefused; anything else, or no answer within ``timeout_s``, is LinkDown. No published text defines a JSON
profile the provinces share: these names are ours, shaped on the XML messages, and written down in the README.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import httpx

from upload.config import UploadSettings
from upload.crypto import md5_answer
from upload.link import AuthRefused, LinkDown, PacketRefused, aes_for
from upload.outbox import Queued
from upload.packet import Packet


def data_doc(p: Packet, sequence: int) -> dict[str, Any]:
    return {"sequence": str(sequence), "time": p.time, "minutes": p.minutes,
            "energy_items": [{"code": i.code, "unit": i.unit, "value": i.value} for i in p.items],
            "meters": [{"id": m.id, "name": m.name, "coding": m.code, "unit": m.unit, "value": m.value,
                        "coverage": m.coverage} for m in p.meters]}


class JsonLink:
    def __init__(self, cfg: UploadSettings) -> None:
        self.cfg = cfg
        self.aes = aes_for(cfg)
        verify: Any = str(cfg.cafile) if cfg.cafile else True
        self.client = httpx.Client(timeout=cfg.timeout_s, verify=verify, follow_redirects=False)

    open = True

    def connect(self) -> None:
        return None

    def heartbeat_due(self) -> bool:
        return False

    def heartbeat(self) -> None:
        return None

    def deliver(self, queued: Queued, operation: str) -> None:
        p = queued.packet
        sequence = secrets.token_hex(8)
        body: dict[str, Any] = {
            "common": {"building_id": p.building_id, "gateway_id": p.gateway_id, "centre_id": self.cfg.centre_id,
                       "type": operation},
            "validate": {"sequence": sequence, "md5": md5_answer(sequence, self.cfg.key.get_secret_value())}}
        data = data_doc(p, queued.id)
        if self.aes is not None:
            raw = json.dumps(data, ensure_ascii=False).encode("utf-8")
            body["data_aes"] = base64.b64encode(self.aes.encrypt(raw)).decode("ascii")
        else:
            body["data"] = data
        assert self.cfg.url is not None  # noqa: S101 - UploadSettings.check
        try:
            r = self.client.post(self.cfg.url, json=body)
        except httpx.HTTPError as exc:
            raise LinkDown(f"cannot reach the data centre {self.cfg.url}: {type(exc).__name__}") from None
        if r.status_code in (401, 403):
            raise AuthRefused(f"the data centre refused gateway {p.gateway_id} ({r.status_code}): check [upload] key")
        if r.status_code != 200:
            raise LinkDown(f"the data centre answered {r.status_code}")
        try:
            answer = r.json()
            ok = isinstance(answer, dict) and answer.get("sequence") == str(queued.id)
        except ValueError:
            ok, answer = False, {}
        if not ok:
            raise LinkDown(f"the data centre's answer is not an ack for packet {queued.id}")
        if answer.get("ack") != "pass":
            raise PacketRefused(f"the data centre refused packet {queued.id} ({p.building_id} {p.time})")

    def drop(self) -> None:
        """After a failure: nothing to forget (each POST stands alone; the client's pool reconnects)."""
        return None

    def close(self) -> None:
        self.client.close()
