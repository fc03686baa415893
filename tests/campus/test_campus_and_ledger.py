from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from campus.errors import ConfigError
from campus.ledger import read_ledger
from campus.model import load_campus, parse_campus
from campus.registry import Registry

MINI = """site: {id: s1, name: 测试学校}
buildings:
  - {id: b1, name: 食堂, department: canteen}
zones:
  - {id: z1, name: 北区, buildings: [b1]}
devices:
  - {id: m1, kind: water, building: b1}
"""


def test_sample_campus_loads(sample_campus_file: Path) -> None:
    campus = load_campus(sample_campus_file)
    assert {b.department.value for b in campus.buildings} >= {"canteen", "dormitory", "teaching", "office",
                                                               "boiler_room", "power_room"}
    assert all(d.zone for d in campus.devices)


def test_zone_derived_from_building() -> None:
    assert parse_campus(MINI).devices[0].zone == "z1"


@pytest.mark.parametrize(("edit", "message"), [
    (("kind: water", "kind: steam"), ":7: devices.0.kind"),
    (("building: b1}", "building: b9}"), "unknown building 'b9'"),
    (("department: canteen", "department: canteen, floor_area_m2: -3"), ":3: buildings.0.floor_area_m2"),
    (("{id: m1,", "{id: m1, ph_offset: 1,"), "ph_offset"),
])
def test_bad_campus_file_names_line_and_reason(edit: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse_campus(MINI.replace(*edit), "campus.yaml")


def test_ledger_csv_with_chinese_headers(tmp_path: Path) -> None:
    f = tmp_path / "台账.csv"
    f.write_text("表号,类型,楼栋,倍率,额定容量\nw9,水表,b1,1,20\ne9,电表,b1,40,300\n", encoding="utf-8")
    devices = read_ledger(f)
    assert [(d.id, d.kind.value, d.multiplier) for d in devices] == [("w9", "water", 1.0), ("e9", "electricity", 40.0)]


def test_ledger_xlsx_errors_name_row_and_column_and_import_nothing(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["id", "kind", "building", "multiplier"])
    ws.append(["ok1", "water", "b1", 1])
    ws.append(["bad", "steam", "b1", 1])
    ws.append(["ok2", "gas", "b1", -2])
    f = tmp_path / "ledger.xlsx"
    wb.save(f)
    with pytest.raises(ConfigError) as info:
        read_ledger(f)
    text = str(info.value)
    assert "row 3, column 2 (kind)" in text
    assert "row 4, column 4 (multiplier)" in text
    assert "nothing imported" in text


def test_registry_upsert_and_unknown_building(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "mw.db")
    registry.seed(parse_campus(MINI))
    f = tmp_path / "l.csv"
    f.write_text("id,kind,building\nm1,gas,b1\nm2,water,b1\n")
    assert registry.upsert_devices(read_ledger(f)) == (1, 1)
    assert registry.tags("s1", "m1").kind.value == "gas"  # type: ignore[union-attr]
    f.write_text("id,kind,building\nm3,water,nowhere\n")
    with pytest.raises(ConfigError, match="unknown building"):
        registry.upsert_devices(read_ledger(f))
    assert registry.tags("s1", "m3") is None
    registry.close()


def test_a_campus_without_zones_validates_again() -> None:
    """A device whose building is in no zone gets the zone "default"; the registry validates every campus again on
    each change, and that second validation must keep it (it used to refuse "unknown zone 'default'")."""
    from campus.model import DEFAULT_ZONE, Campus

    doc = {"site": {"id": "s", "name": "S"}, "buildings": [{"id": "b", "name": "B", "department": "office"}],
           "devices": [{"id": "d", "kind": "water", "building": "b"}]}
    first = Campus.model_validate(doc)
    again = Campus.model_validate(first.model_dump())
    assert [d.zone for d in again.devices] == [DEFAULT_ZONE]
