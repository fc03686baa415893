"""The annual return as XLSX in the form's layout: sheet 1 the basic information (基本信息), sheet 2 the energy and
resource consumption (能源资源消费状况) with the total and the indicators, sheet 3 what is still to fix.

Numbers are numbers (the ``Decimal`` written as it is) with a display format of the form's decimals; text is defused
(``spreadsheet_safe``). Headers are Chinese (``zh-CN``) or English (``en``). The same return gives the same bytes:
the document's times are the return's ``generated_at`` and every part of the zip carries one fixed time.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Sequence
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.packaging.core import DocumentProperties
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.xml.functions import tostring

from reports.annual_return import AnnualReturn
from reports.render.energy_tables import spreadsheet_safe

Cell = str | int | float | Decimal | None
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
BOLD = Font(bold=True)
WRAP = Alignment(wrap_text=True, vertical="center")
SOURCES = {"meters": ("表计", "meters"), "entered": ("填报", "entered"), "billing": ("结算", "billing"),
           "campus": ("校园文件", "campus file"), "setting": ("默认", "default")}


def _say(zh: bool, a: str, b: str) -> str:
    return a if zh else b


def number_format(places: int) -> str:
    return "#,##0" if places == 0 else "#,##0." + "0" * places


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


class _Sheet:
    def __init__(self, ws: Worksheet, widths: Sequence[int]) -> None:
        self.ws, self.n = ws, 0
        for col, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(col)].width = width

    def row(self, cells: Sequence[Cell], formats: Sequence[str | None] = (), bold: bool = False) -> None:
        self.n += 1
        for col, value in enumerate(cells, start=1):
            if value is None:
                continue
            cell = self.ws.cell(row=self.n, column=col, value=spreadsheet_safe(value))
            fmt = formats[col - 1] if col - 1 < len(formats) else None
            if fmt is not None and cell.data_type == "n":
                cell.number_format = fmt
            if bold:
                cell.font = BOLD
                cell.alignment = WRAP


def _head(s: _Sheet, r: AnnualReturn, zh: bool, title_zh: str, title_en: str) -> None:
    s.row([_say(zh, title_zh, title_en)], bold=True)
    s.row([_say(zh, "制表机关：国家机关事务管理局", "Form of: National Government Offices Administration"),
           None, _say(zh, "批准机关：国家统计局", "Approved by: National Bureau of Statistics")])
    s.row([_say(zh, f"填报单位：{r.site_name}", f"Institution: {r.site_name}"), None,
           _say(zh, f"统计年度：{r.year}年", f"Year: {r.year}")])
    s.n += 1


def _foot(s: _Sheet, zh: bool) -> None:
    s.n += 1
    s.row([_say(zh, "单位负责人：", "Head of institution:"), _say(zh, "统计负责人：", "Head of statistics:"),
           _say(zh, "填表人：", "Filled in by:"), _say(zh, "报出日期：", "Date:")])


def _basic(ws: Worksheet, r: AnnualReturn, zh: bool) -> None:
    s = _Sheet(ws, (28, 14, 10, 26))
    _head(s, r, zh, "公共机构基本信息", "Public institution: basic information")
    s.row([_say(zh, "指标名称", "Item"), _say(zh, "计量单位", "Unit"), _say(zh, "代码", "Code"),
           _say(zh, "数值", "Value"), _say(zh, "来源", "Source")], bold=True)
    b = r.basic
    src = 1 if zh else 2
    s.row([_say(zh, "单位名称", "Name"), None, None, b.name])
    s.row([_say(zh, "统一社会信用代码", "Unified social credit code"), None, None, b.credit_code])
    s.row([_say(zh, "单位性质", "Institution type"), None, "101", b.unit_nature,
           SOURCES[b.unit_nature_from][src - 1]])
    s.row([_say(zh, "建筑面积", "Floor area"), _say(zh, "平方米", "m²"), "102", b.floor_area_m2,
           SOURCES[b.floor_area_from][src - 1]], [None, None, None, number_format(max(2, _places(b.floor_area_m2)))])
    s.row([_say(zh, "用能人数", "Energy users"), _say(zh, "人", "people"), "103", b.energy_users,
           SOURCES[b.energy_users_from][src - 1]], [None, None, None, "#,##0"])
    for v in b.vehicles:
        s.row([_say(zh, f"车辆数：{v.name}", f"Vehicles: {v.name}"), _say(zh, "辆", "vehicles"), None, v.count],
              [None, None, None, "#,##0"])
    _foot(s, zh)


def _consumption(ws: Worksheet, r: AnnualReturn, zh: bool) -> None:
    s = _Sheet(ws, (22, 14, 8, 18, 18, 10))
    _head(s, r, zh, "公共机构能源资源消费状况", "Public institution: energy and resource consumption")
    s.row([_say(zh, "指标名称", "Item"), _say(zh, "计量单位", "Unit"), _say(zh, "代码", "Code"),
           _say(zh, "消费量", "Quantity"), _say(zh, "金额（元）", "Cost (元)"), _say(zh, "来源", "Source")], bold=True)
    i = 0 if zh else 1
    for ln in r.lines:
        places = _places(ln.quantity) if ln.quantity is not None else 2
        source = "/".join(SOURCES[x][i] for x in (ln.quantity_from, ln.cost_from) if x is not None) or None
        s.row([ln.item, ln.unit, ln.code, ln.quantity, ln.cost, source],
              [None, None, None, number_format(places), "#,##0.00"])
    s.n += 1
    s.row([_say(zh, "能源消费总量（综合能耗）", "Total energy"), _say(zh, "吨标准煤", "tce"), None, r.total_tce],
          [None, None, None, "#,##0.000"], bold=True)
    ind = r.indicators
    s.row([_say(zh, "单位建筑面积能耗", "Energy per floor area"), _say(zh, "千克标准煤/平方米", "kgce/m²"), None,
           ind.kgce_per_m2], [None, None, None, "#,##0.00"])
    s.row([_say(zh, "人均综合能耗", "Energy per person"), _say(zh, "千克标准煤/人", "kgce/person"), None,
           ind.kgce_per_person], [None, None, None, "#,##0.00"])
    s.row([_say(zh, "人均用水量", "Water per person"), _say(zh, "吨/人", "t/person"), None, ind.water_t_per_person],
          [None, None, None, "#,##0.00"])
    _foot(s, zh)


def _to_fix(ws: Worksheet, r: AnnualReturn, zh: bool) -> None:
    s = _Sheet(ws, (22, 90))
    s.row([_say(zh, "报送前请核对或补填", "To enter or check before filing")], bold=True)
    s.row([_say(zh, "字段", "Field"), _say(zh, "说明", "What to do")], bold=True)
    for f in r.to_fix:
        s.row([f.field, f.zh if zh else f.en])
    if not r.to_fix:
        s.row([None, _say(zh, "无", "nothing")])


def fixed_bytes(wb: Workbook, at: dt.datetime) -> bytes:
    """The workbook's bytes, the same each time for the same content: metadata times ``at``, zip times fixed."""
    at = (at.astimezone(dt.UTC) if at.tzinfo is not None else at).replace(tzinfo=None, microsecond=0)
    wb.properties = DocumentProperties(creator="meterwatch", created=at, modified=at)
    raw = io.BytesIO()
    wb.save(raw)  # sets ``modified`` to now: put back below
    core = wb.properties
    core.modified = at
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = tostring(core.to_tree()) if info.filename == "docProps/core.xml" else src.read(info)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=ZIP_TIME), data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def render_return(r: AnnualReturn) -> bytes:
    zh = r.language.startswith("zh")
    wb = Workbook()
    wb.remove(wb.active)
    _basic(wb.create_sheet(_say(zh, "基本信息", "Basic information")), r, zh)
    _consumption(wb.create_sheet(_say(zh, "能源资源消费状况", "Consumption")), r, zh)
    _to_fix(wb.create_sheet(_say(zh, "待核对", "To fix")), r, zh)
    return fixed_bytes(wb, r.generated_at)


def return_filename(r: AnnualReturn) -> str:
    return f"公共机构能源资源消费统计-{r.site}-{r.year}.xlsx"
