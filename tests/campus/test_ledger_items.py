"""The ledger's item column (分项): codes, names in Chinese or English, a code Excel made a number; a wrong item
names its row and column and imports nothing; random cells never crash the reader."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from campus.errors import ConfigError
from campus.ledger import load_ledger

ROWS = [["表号", "类型", "楼栋", "上级表", "分项"],
        ["e1", "电表", "b1", None, None],
        ["e1a", "电表", "b1", "e1", "照明插座用电"],
        ["e1b", "电表", "b1", "e1", "01B00"],
        ["e1c", "电表", "b1", "e1", "Power"],
        ["e1d", "电表", "b1", "e1", 1000],          # 01000 typed into Excel: the number 1000
        ["e2", "电表", "b2", None, "01D20 厨房餐厅"],
        ["w1", "水表", "b1", None, "水"]]


def _xlsx(path: Path, rows: list[list[Any]]) -> Path:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def _csv(path: Path, rows: list[list[Any]]) -> Path:
    out = io.StringIO()
    csv.writer(out).writerows([["" if v is None else v for v in row] for row in rows])
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def test_items_by_code_or_name(tmp_path: Path) -> None:
    for ledger in (load_ledger(_xlsx(tmp_path / "台账.xlsx", ROWS)), load_ledger(_csv(tmp_path / "台账.csv", ROWS))):
        assert {d.id: d.item for d in ledger.devices} == {
            "e1": None, "e1a": "01A00", "e1b": "01B00", "e1c": "01C00", "e1d": "01000", "e2": "01D20", "w1": "02000"}


def test_a_wrong_item_names_its_row_and_column(tmp_path: Path) -> None:
    rows = [*ROWS, ["w2", "水表", "b1", None, "01A00"], ["e3", "电表", "b1", None, "路灯"]]
    with pytest.raises(ConfigError) as err:
        load_ledger(_xlsx(tmp_path / "台账.xlsx", rows))
    said = str(err.value)
    assert "row 9, column 5 (分项): item 01A00 (照明插座用电) is a electricity item, not water" in said
    assert "row 10, column 5 (分项): item '路灯' is neither an energy item code nor its name" in said


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=30), st.integers(-10**6, 10**6), st.floats(allow_nan=True)))
def test_any_item_cell_is_taken_or_refused_in_words(tmp_path: Path, cell: object) -> None:
    said = ""
    try:
        ledger = load_ledger(_csv(tmp_path / "台账.csv", [ROWS[0], ["e9", "电表", "b1", None, cell]]))
    except ConfigError as exc:
        said = str(exc)
    if said:
        assert "row 2" in said
    else:
        assert all(d.item is None or d.item.startswith("01") for d in ledger.devices)
