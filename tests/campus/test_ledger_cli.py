"""``meterwatch devices import`` with meter links and buses: the summary says what came in (links by protocol, meters
read by hand, buses added and replaced, addresses whose zeros were put back), and a row naming a bus nobody has is
refused with its row and column."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from campus.db import DataDir
from campus.registry import Registry
from cli.main import main
from tests.support.paths import SAMPLE

DEVICES = [["表号", "类型", "楼栋", "集中器", "总线", "协议", "通信地址", "站号", "型号模板", "人工抄表", "上报间隔"],
           ["c1-elec", "电表", "canteen-1", "gw-canteen-1", "rs485-1", "DL/T645-2007", 12345678, None, None, None, 900],
           ["c1-water", "水表", "canteen-1", "gw-canteen-1", "dtu-2", "CJ/T188", "12345678901234", None, None, None,
            900],
           ["c1-old", "水表", "canteen-1", None, None, None, None, None, None, "是", 2678400]]
BUSES = [["集中器", "总线", "串口", "TCP地址", "波特率", "校验位"],
         ["gw-canteen-1", "rs485-1", "/dev/ttyUSB0", None, 2400, "E"],
         ["gw-canteen-1", "dtu-2", None, "10.1.2.3:8899", None, None]]


def _book(path: Path, **sheets: list[list[object]]) -> Path:
    wb = Workbook()
    for i, (title, rows) in enumerate(sheets.items()):
        ws = wb.active if i == 0 else wb.create_sheet()
        assert ws is not None
        ws.title = title
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def test_import_prints_meter_links_and_buses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "mw.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[campus]\nfile = "{SAMPLE}"\n', encoding="utf-8")
    book = _book(tmp_path / "台账.xlsx", 台账=DEVICES, 总线=BUSES)
    assert main(["devices", "import", str(book), "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "新增 1, 更新 2" in out
    assert "表计连接 2 个 (cjt188 1, dlt645 1), 人工抄表 1 个 · meter links: 2 (cjt188 1, dlt645 1), read by hand: 1" \
        in out
    assert "总线: 新增 2, 更新 0, 新集中器 0 · buses: 2 added, 0 replaced, on 1 gateway(s) (0 new)" in out
    assert "1 个表地址按数字输入, 已补齐前导零" in out
    registry = Registry(DataDir(tmp_path / "data").state)
    try:
        elec = registry.device("c1-elec")
        assert elec.meter is not None
        assert elec.meter.address == "000012345678"
        assert registry.device("c1-old").manual
    finally:
        registry.close()
    # the buses again, alone: replaced, not doubled
    buses = _book(tmp_path / "总线.xlsx", 总线=BUSES)
    assert main(["devices", "import", "--buses", str(buses), "--config", str(config)]) == 0
    assert "buses: 0 added, 2 replaced" in capsys.readouterr().out
    # a meter on a bus the gateway does not have: its row and column, nothing imported
    stray = _book(tmp_path / "stray.xlsx", 台账=[DEVICES[0], [*DEVICES[1][:4], "rs485-9", *DEVICES[1][5:]]])
    assert main(["devices", "import", str(stray), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "row 2, column 5 (总线): gateway 'gw-canteen-1' has no bus 'rs485-9' (its buses: dtu-2, rs485-1)" in err
    assert main(["devices", "import", "--config", str(config)]) == 2
    assert "name a ledger file, --buses FILE, or both" in capsys.readouterr().err
