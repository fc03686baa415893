"""Ledgers with meter links and buses: Chinese and English headers in CSV and XLSX, protocols as people write them,
addresses that Excel made numbers, buses from a sheet or a CSV; bad rows name row and column and import nothing;
hostile cells never crash the reader; the registry takes a ledger in one transaction."""

from __future__ import annotations

import csv
import io
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from campus.errors import ConfigError
from campus.ledger import HEADERS, Ledger, load_ledger
from campus.ledger_cells import address, protocol
from campus.model import Protocol, parse_campus
from campus.registry import Registry

MINI = """site: {id: s1, name: 测试学校}
buildings:
  - {id: b1, name: 食堂, department: canteen}
  - {id: b2, name: 宿舍, department: dormitory}
zones:
  - {id: z1, name: 北区, buildings: [b1, b2]}
gateways:
  - {id: gw-1, name: 食堂集中器, building: b1}
devices:
  - {id: m1, kind: water, building: b1}
"""
DEVICES_ZH = [["表号", "类型", "楼栋", "集中器", "总线", "协议", "通信地址", "站号", "型号模板", "人工抄表",
               "上报间隔"],
              ["e1", "电表", "b1", "gw-1", "rs485-1", "DL/T645-2007", 12345678, None, None, None, 900],
              ["e2", "电表", "b1", "gw-1", "rs485-1", "645-1997", "000000000042", None, None, "否", None],
              ["w1", "水表", "b1", "gw-1", "dtu-2", "CJ/T 188", "12345678901234", None, None, None, None],
              ["pm1", "电表", "b2", "gw-1", "pm-1", "Modbus-RTU", None, 3, "acrel-dtsd1352", None, None],
              ["old1", "水表", "b2", None, None, None, None, None, None, "是", 2678400]]
BUSES_ZH = [["集中器", "集中器名称", "安装楼栋", "总线", "串口", "TCP地址", "ModbusTCP地址", "波特率", "校验位",
             "超时(毫秒)", "重试次数"],
            ["gw-1", "一食堂集中器", "b1", "rs485-1", "/dev/ttyUSB0", None, None, 2400, "偶校验", 800, 3],
            ["gw-1", None, None, "dtu-2", None, "10.1.2.3:8899", None, None, None, None, None],
            ["gw-1", None, None, "pm-1", None, None, "10.1.2.4:502", None, None, None, None]]


def _xlsx(path: Path, **sheets: list[list[Any]]) -> Path:
    wb = Workbook()
    first = True
    for title, rows in sheets.items():
        ws = wb.active if first else wb.create_sheet()
        assert ws is not None
        ws.title = title
        for row in rows:
            ws.append(row)
        first = False
    wb.save(path)
    return path


def _csv(path: Path, rows: list[list[Any]], encoding: str = "utf-8") -> Path:
    out = io.StringIO()
    csv.writer(out).writerows([["" if v is None else v for v in row] for row in rows])
    path.write_text(out.getvalue(), encoding=encoding)
    return path


def test_xlsx_with_a_bus_sheet_and_chinese_headers(tmp_path: Path) -> None:
    ledger = load_ledger(_xlsx(tmp_path / "台账.xlsx", 台账=DEVICES_ZH, 总线=BUSES_ZH))
    by_id = {d.id: d for d in ledger.devices}
    e1 = by_id["e1"].meter
    assert e1 is not None
    assert (e1.protocol, e1.address, e1.bus) == (Protocol.DLT645, "000012345678", "rs485-1")
    assert by_id["e2"].meter is not None
    assert by_id["e2"].meter.protocol is Protocol.DLT645_1997
    assert by_id["w1"].meter is not None
    assert by_id["w1"].meter.protocol is Protocol.CJT188
    pm = by_id["pm1"].meter
    assert pm is not None
    assert (pm.protocol, pm.unit, pm.profile) == (Protocol.MODBUS, 3, "acrel-dtsd1352")
    assert by_id["old1"].manual
    assert by_id["old1"].interval_s == 2678400
    assert not by_id["e2"].manual
    assert "manual" in by_id["e2"].model_fields_set
    assert ledger.padded == 1  # 12345678 typed as a number
    assert ledger.meters == {"dlt645": 1, "dlt645_1997": 1, "cjt188": 1, "modbus": 1}
    assert ledger.manual == 1
    (gw,) = ledger.gateways
    assert (gw.id, gw.name, gw.building) == ("gw-1", "一食堂集中器", "b1")
    assert [(b.name, b.way, b.baud, b.parity, b.timeout_ms, b.retries) for b in gw.buses] == [
        ("rs485-1", "serial", 2400, "E", 800, 3), ("dtu-2", "tcp", None, None, 1000, 2),
        ("pm-1", "modbus_tcp", None, None, 1000, 2)]
    # the workbook's sheets may come in any order: the bus sheet is found by its name
    again = load_ledger(_xlsx(tmp_path / "b.xlsx", buses=BUSES_ZH, devices=DEVICES_ZH))
    assert [d.id for d in again.devices] == [d.id for d in ledger.devices]
    assert again.gateways == ledger.gateways


def test_csv_and_a_bus_csv_in_english_and_in_gbk(tmp_path: Path) -> None:
    english = {"表号": "id", "类型": "kind", "楼栋": "building", "集中器": "gateway", "总线": "bus",
               "协议": "protocol", "通信地址": "address", "站号": "unit", "型号模板": "profile", "人工抄表": "manual",
               "上报间隔": "interval_s"}
    rows = [[english[h] for h in DEVICES_ZH[0]], *DEVICES_ZH[1:]]
    bus_rows = [["gateway", "name", "serial", "baud", "parity", "listen", "register", "heartbeat", "mqtt_up",
                 "mqtt_down"],
                ["gw-1", "rs485-1", "/dev/ttyUSB0", 2400, "E", None, None, None, None, None],
                ["gw-1", "dtu-2", None, None, None, "0.0.0.0:9000", "GW3", "HB", None, None],
                ["gw-1", "pm-1", None, None, None, None, None, None, "dtu/GW4/up", "dtu/GW4/down"]]
    ledger = load_ledger(_csv(tmp_path / "l.csv", rows), _csv(tmp_path / "b.csv", bus_rows))
    assert len(ledger.devices) == 5
    assert ledger.padded == 1
    ways = [(b.name, b.way, b.registration, b.heartbeat) for b in ledger.gateways[0].buses]
    assert ways == [("rs485-1", "serial", None, None), ("dtu-2", "listen", "GW3", "HB"), ("pm-1", "mqtt", None, None)]
    gbk = load_ledger(_csv(tmp_path / "gbk.csv", DEVICES_ZH, encoding="gbk"))  # as Chinese Excel saves a CSV
    assert [d.id for d in gbk.devices] == ["e1", "e2", "w1", "pm1", "old1"]
    buses_only = load_ledger(None, _csv(tmp_path / "b2.csv", bus_rows))
    assert buses_only.devices == []
    assert len(buses_only.gateways[0].buses) == 3


@pytest.mark.parametrize(("written", "expected"), [
    ("645-2007", "dlt645"), ("DL/T645-2007", "dlt645"), ("DL/T 645—2007", "dlt645"), ("dlt645", "dlt645"),
    ("645", "dlt645"), ("645-1997", "dlt645_1997"), ("DL/T645-1997", "dlt645_1997"), ("dlt645_1997", "dlt645_1997"),
    ("188", "cjt188"), (188, "cjt188"), ("CJ/T188", "cjt188"), ("CJ/T 188-2004", "cjt188"), ("cjt188", "cjt188"),
    ("modbus", "modbus"), ("Modbus-RTU", "modbus"), ("Modbus TCP", "modbus"), ("MODBUS", "modbus"),
])
def test_protocols_as_people_write_them(written: object, expected: str) -> None:
    assert protocol(written) == expected


def test_addresses_typed_as_numbers_get_their_zeros_back() -> None:
    assert address(12345678, "dlt645") == ("000012345678", True)
    assert address(12345678.0, "dlt645") == ("000012345678", True)
    assert address("12345678", "dlt645_1997") == ("000012345678", True)  # a CSV that Excel saved
    assert address("000012345678", "dlt645") == ("000012345678", False)
    assert address(1234567890, "cjt188") == ("00001234567890", True)
    assert address("12 3456 7890 1234", "cjt188") == ("12345678901234", False)
    assert address("1234567890123", None) == ("1234567890123", False)  # no protocol: nothing to pad to
    for bad in (-5, 1.5, float("nan"), True):
        with pytest.raises(ValueError, match="address"):
            address(bad, "dlt645")


def test_bad_rows_name_row_and_column_and_nothing_is_imported(tmp_path: Path) -> None:
    rows = [DEVICES_ZH[0],
            ["e1", "电表", "b1", "gw-1", "rs485-1", "DL/T 698", 1, None, None, None, None],           # row 2
            ["e2", "电表", "b1", "gw-1", "rs485-1", "645-2007", "12345678901X", None, None, None, None],  # row 3
            ["e3", "电表", "b1", "gw-1", "pm-1", "modbus", None, "three", "x", None, None],            # row 4
            ["e4", "电表", "b1", "gw-1", "pm-1", "modbus", None, 3, None, None, None],                 # row 5
            ["e5", "电表", "b1", "gw-1", "rs485-1", "645", 5, None, None, "也许", None],               # row 6
            ["w5", "水表", "b1", "gw-1", "rs485-1", "645", 6, None, None, None, None],                 # row 7
            ["o5", "水表", "b1", "gw-1", None, None, None, None, None, "是", None],                    # row 8
            ["o6", "水表", "b1", None, None, None, None, None, None, "是", 2678401],                   # row 9
            ["e9", "电表", "b1", None, "rs485-1", "645", 9, None, None, None, None],                   # row 10
            ["w9", "水表", "b1", "gw-1", "rs485-1", "CJ/T188-2018", 9, None, None, None, None]]        # row 11
    with pytest.raises(ConfigError) as info:
        load_ledger(_xlsx(tmp_path / "bad.xlsx", 台账=rows))
    text = str(info.value)
    for said in ("row 2, column 6 (协议): 'DL/T 698' is not a protocol meterwatch speaks",
                 "row 3, column 7 (通信地址): a dlt645 address is the 12 digits on the nameplate",
                 "row 4, column 8 (站号): 'three' is not a whole number",
                 "row 5, column 9 (型号模板): a modbus meter needs exactly one of profile",
                 "row 6, column 10 (人工抄表): '也许': write 是 or 否",
                 "row 7, column 6 (协议): dlt645 is for electricity meters, not water",
                 "row 8, column 4 (集中器): a meter read by hand (manual: true) has no gateway",
                 "row 9, column 11 (上报间隔): Input should be less than or equal to 2678400",
                 "row 10, column 4 (集中器): a meter link (meter:) names a bus of the device's gateway: set gateway",
                 "row 11, column 6 (协议): 'CJ/T188-2018': CJ/T 188-2018 is not supported yet",
                 "nothing imported"):
        assert said in text, (said, text)


def test_bad_bus_rows_name_row_and_column(tmp_path: Path) -> None:
    rows = [["集中器", "总线", "串口", "TCP地址", "波特率", "校验位", "上行主题", "下行主题", "注册包"],
            ["gw-1", "rs485-1", "/dev/ttyUSB0", None, 2401, "E", None, None, None],      # row 2: baud
            ["gw-1", "rs485-2", "/dev/ttyUSB1", None, 2400, "偶偶", None, None, None],   # row 3: parity
            [None, "rs485-3", "/dev/ttyUSB2", None, None, None, None, None, None],       # row 4: no gateway
            ["gw-1", "dtu-1", None, "10.0.0.1:99", 9600, None, None, None, None],        # row 5: baud on a DTU
            ["gw-1", "dtu-2", None, None, None, None, "up/only", None, None],            # row 6: one topic
            ["gw-1", "dtu-3", None, "10.0.0.1:99", None, None, None, None, "GW"],        # row 7: register w/o listen
            ["gw-1", "dtu-4", None, "10.0.0.1:99", None, None, None, None, None],        # row 8: fine
            ["gw-1", "dtu-4", None, "10.0.0.2:99", None, None, None, None, None],        # row 9: twice
            ["gw 1", "x", "/dev/x", None, None, None, None, None, None]]                 # row 10: bad gateway id
    with pytest.raises(ConfigError) as info:
        load_ledger(None, _csv(tmp_path / "总线.csv", rows))
    text = str(info.value)
    for said in ("row 2, column 5 (波特率): Input should be 300, 600",
                 "row 3, column 6 (校验位): '偶偶': parity is N (无校验), E (偶校验) or O (奇校验)",
                 "row 4, column 1 (集中器): name the gateway (集中器) this bus belongs to",
                 "row 5: bus 'dtu-1': baud and parity are set on the DTU or serial server itself",
                 "row 6, column 8 (下行主题): a 4G DTU over MQTT needs both topics",
                 "row 7: bus 'dtu-3': register is the packet a DTU sends when it dials in; it needs listen",
                 "row 9, column 2 (总线): bus 'dtu-4' of gateway 'gw-1' is already on row 8",
                 "row 10, column 1 (集中器): String should match pattern"):
        assert said in text, (said, text)
    assert "row 8" not in text.replace("already on row 8", "")


def test_headers_unknown_or_twice_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"row 1, column 3 '电压': unknown column"):
        load_ledger(_csv(tmp_path / "a.csv", [["表号", "类型", "电压"], ["x", "电表", 1]]))
    with pytest.raises(ConfigError, match=r"row 1, column 2 'id': column id is given twice \(column 1 too\)"):
        load_ledger(_csv(tmp_path / "b.csv", [["表号", "id"], ["x", "y"]]))
    with pytest.raises(ConfigError, match="has a bus sheet already"):
        load_ledger(_xlsx(tmp_path / "c.xlsx", 台账=DEVICES_ZH, 总线=BUSES_ZH), tmp_path / "b.csv")
    (tmp_path / "nul.csv").write_bytes(b"id,kind\nx\x00,water\n")
    with pytest.raises(ConfigError, match=r"row 2, column 1 \(id\): String should match(.|\n)*row 2: no building"):
        load_ledger(tmp_path / "nul.csv")
    (tmp_path / "latin.csv").write_bytes(b"id,kind\n\xff\xfe\x81\x30,water\n")
    with pytest.raises(ConfigError):
        load_ledger(tmp_path / "latin.csv")
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(ConfigError, match="not a readable .xlsx workbook"):
        load_ledger(tmp_path / "broken.xlsx")
    # a cell holding a character XML cannot carry: openpyxl writes it, and cannot read it back
    with pytest.raises(ConfigError, match="not a readable .xlsx workbook"):
        load_ledger(_xlsx(tmp_path / "nonchar.xlsx", 台账=[["id", "kind", "building"], ["x\ufffe", "water", "b1"]]))


def test_the_registry_takes_buses_and_links_in_one_go_and_keeps_them(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "mw.db")
    try:
        registry.seed(parse_campus(MINI))
        ledger = load_ledger(_xlsx(tmp_path / "台账.xlsx", 台账=DEVICES_ZH, 总线=BUSES_ZH))
        ledger.check(registry.campus)
        done = registry.upsert(ledger.devices, ledger.gateways)
        assert (done.added, done.updated, done.gateways_added, done.buses_added, done.buses_replaced) == (5, 0, 0, 3, 0)
        gw = next(g for g in registry.campus.gateways if g.id == "gw-1")
        assert gw.name == "一食堂集中器"
        assert [b.name for b in gw.buses] == ["rs485-1", "dtu-2", "pm-1"]
        # a row naming a bus nobody has: its row and column
        rows = [["id", "kind", "building", "gateway", "bus", "protocol", "address"],
                ["e7", "electricity", "b1", "gw-1", "rs485-7", "dlt645", "000000000007"]]
        stray = load_ledger(_csv(tmp_path / "s.csv", rows))
        with pytest.raises(ConfigError, match=r"row 2, column 5 \(bus\): gateway 'gw-1' has no bus 'rs485-7' "
                                              r"\(its buses: dtu-2, pm-1, rs485-1\)"):
            stray.check(registry.campus)
        # a ledger row moving a meter to reading by hand drops its gateway and link
        hand = load_ledger(_csv(tmp_path / "h.csv", [["id", "kind", "building", "manual", "interval_s"],
                                                     ["e1", "electricity", "b1", "是", 2678400]]))
        assert registry.upsert(hand.devices, ()).updated == 1
        e1 = registry.device("e1")
        assert (e1.manual, e1.gateway, e1.meter) == (True, None, None)
        # the bus sheet again: the same buses replaced, nothing doubled
        again = registry.upsert([], load_ledger(_xlsx(tmp_path / "b.xlsx", 台账=[["id"]], 总线=BUSES_ZH)).gateways)
        assert (again.buses_added, again.buses_replaced) == (0, 3)
        # the campus file again at the next start: it lists gw-1 without buses, so the buses stay
        registry.seed(parse_campus(MINI))
        assert [b.name for b in next(g for g in registry.campus.gateways if g.id == "gw-1").buses] == [
            "rs485-1", "dtu-2", "pm-1"]
        assert registry.device("w1").meter is not None  # a ledger's device, not in the file: kept with its link
    finally:
        registry.close()


# -- hostile cells ----------------------------------------------------------------------------------------------
def _outcome(path: Path) -> tuple[Ledger | None, str]:
    """A ledger, or the words of the ConfigError that refused it; any other exception fails the test."""
    try:
        return load_ledger(path), ""
    except ConfigError as exc:
        return None, str(exc)


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
_CELL = st.one_of(st.none(), _TEXT, st.integers(min_value=-(10**15), max_value=10**15),
                  st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                  st.sampled_from(["645-2007", "188", "modbus", "是", "否", "rs485-1", "gw-1", "电表", "水表", "b1",
                                   "000012345678", "0x10", "{}", '{"energy_kwh": {"address": 0}}', "E", "偶"]))
_DEVICE_COLUMNS = sorted(set(HEADERS))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.lists(st.sampled_from(_DEVICE_COLUMNS), min_size=1, max_size=8, unique_by=lambda h: HEADERS[h]),
       cells=st.lists(st.lists(_CELL, max_size=9), max_size=4))
def test_hostile_cells_never_crash_the_reader(tmp_path: Path, header: list[str], cells: list[list[Any]]) -> None:
    """CSV cells are text as a person typed it (any characters, commas, quotes, newlines): the reader answers a
    ledger or a ConfigError with words, nothing else."""
    path = _csv(tmp_path / "h.csv", [header, *[[("" if v is None else str(v)) for v in row] for row in cells]])
    ledger, said = _outcome(path)
    assert said or (ledger is not None and len(ledger.devices) <= len(cells))


_XLSX_TEXT = st.one_of(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30),
                       st.sampled_from(["\ufffe", "a\uffffb", "\u2028", "=1+1", "0x10", "645-2007", "是"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(st.fixed_dictionaries({}, optional={
    h: st.one_of(_XLSX_TEXT, st.integers(min_value=-(10**14), max_value=10**14), st.floats(allow_nan=False),
                 st.booleans())
    for h in ("id", "kind", "building", "gateway", "bus", "protocol", "address", "unit", "manual", "interval_s")}),
    max_size=3),
       buses=st.lists(st.fixed_dictionaries({}, optional={
           h: st.one_of(_XLSX_TEXT, st.integers(min_value=-(10**6), max_value=10**6))
           for h in ("gateway", "name", "serial", "tcp", "baud", "parity", "timeout_ms")}), max_size=3))
def test_hostile_workbook_cells_never_crash_the_reader(tmp_path: Path, cells: list[dict[str, Any]],
                                                       buses: list[dict[str, Any]]) -> None:
    """XLSX cells keep their types: numbers, booleans, any text. A ledger or a ConfigError, nothing else."""
    dev_header = ["id", "kind", "building", "gateway", "bus", "protocol", "address", "unit", "manual", "interval_s"]
    bus_header = ["gateway", "name", "serial", "tcp", "baud", "parity", "timeout_ms"]
    path = _xlsx(tmp_path / "h.xlsx", devices=[dev_header, *[[c.get(h) for h in dev_header] for c in cells]],
                 buses=[bus_header, *[[b.get(h) for h in bus_header] for b in buses]])
    ledger, said = _outcome(path)
    assert said or ledger is not None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(number=st.integers(min_value=0, max_value=10**12 - 2), as_float=st.booleans(),  # 99…99: broadcast
       spelled=st.sampled_from(["645-2007", "DL/T645-2007", "645-1997", "dlt645"]))
def test_any_address_typed_as_a_number_is_its_nameplate(tmp_path: Path, number: int, as_float: bool,
                                                        spelled: str) -> None:
    rows = [["id", "kind", "building", "gateway", "bus", "protocol", "address"],
            ["e1", "electricity", "b1", "gw-1", "rs485-1", spelled, float(number) if as_float else number]]
    (dev,) = load_ledger(_xlsx(tmp_path / "n.xlsx", devices=rows)).devices
    assert dev.meter is not None
    assert dev.meter.address == str(number).zfill(12)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=string.printable + "表总线协议是否偶奇/—", max_size=20))
def test_protocol_cells_are_a_protocol_or_words(cell: str) -> None:
    try:
        got, said = protocol(cell), ""
    except ValueError as exc:
        got, said = None, str(exc)
    assert got in {p.value for p in Protocol} or "protocol" in said or "2018" in said
