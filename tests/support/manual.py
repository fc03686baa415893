"""What the tests of readings by hand (抄表) share: the sample campus with four meters read by hand (two in each
zone), written to a file, and a reading's request body."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.support.paths import SAMPLE

MONTH_S = 31 * 86_400
MANUAL = [
    {"id": "m-dorm1-water", "kind": "water", "building": "dorm-1", "name": "1号楼老水表", "interval_s": MONTH_S,
     "rated_capacity": 10, "manual": True},
    {"id": "m-boiler-elec", "kind": "electricity", "building": "boiler", "name": "锅炉房老电表", "interval_s": MONTH_S,
     "rated_capacity": 20, "multiplier": 10, "manual": True},
    {"id": "m-teach-a-water", "kind": "water", "building": "teach-a", "name": "A栋老水表", "interval_s": MONTH_S,
     "rated_capacity": 5, "manual": True},
    {"id": "m-office-gas", "kind": "gas", "building": "office", "name": "办公楼燃气表", "interval_s": MONTH_S,
     "rated_capacity": 8, "manual": True},
]


def manual_campus(folder: Path) -> Path:
    """The sample campus plus the meters read by hand, as ``folder``/campus.yaml."""
    doc = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    doc["devices"] = [*doc["devices"], *MANUAL]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "campus.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def body(device: str, value: float, **more: Any) -> dict[str, Any]:
    field = "energy_kwh" if device == "m-boiler-elec" else "volume_m3"
    return {"site": "yucai", "device": device, "values": {field: value}, **more}
