"""The canteens' fuel account (燃料成本核算专账): per canteen and month, what its fuel cost and what a meal cost.

Rules, written down plainly:

1. A canteen is a payer of type ``canteen`` in the billing file.
2. Its gas is its gas meters priced by its gas tariff: the ``gas`` lines of its month's statement
   (``billing.statements``): m³ is the sum of their use, 元 the sum of their amounts (a monthly fee too).
3. Delivered fuel (``billing.fuel``) is costed in the month delivered, whole, at quantity × unit price to the
   fen per delivery; a fuel's line adds its deliveries (kg, L or m³: ``billing.fuel`` rule 3).
4. The total fuel cost is the sum of the lines (gas and each delivered fuel), never rounded again.
5. Meals: day figures win over a month figure (``billing.fuel`` rule 4). Cost per meal = total ÷ meals,
   rounded half up to the fen; none (shown "—") without meals.
6. Against the target (``fuel_targets``: 元 per meal): cost per meal − target; positive is over target.
7. The same month last year, by the same rules; "—" (null in JSON) where last year has no data: no gas
   reading around the month (or no gas tariff then) and no delivery (cost), or no meals (cost per meal).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from pydantic import BaseModel, Field

from billing.book import Book
from billing.config import Payer, PayerType
from billing.fuel import FUEL_NAMES, UNIT_NAMES, Delivery, FuelStore, Meals, meals_of_month
from billing.pricing import NoPrice
from billing.statements import Line, Statement
from billing.tariffs import TariffKind
from reports.render.energy_tables import spreadsheet_safe

FEN = Decimal("0.01")
DASH = "—"
GAS = ("天然气", "natural gas")


def _say(language: str, pair: tuple[str, str]) -> str:
    return pair[0] if language.startswith("zh") else pair[1]


class FuelLine(BaseModel):
    fuel: str = Field(description="gas (its meters), lpg, diesel, coal or other")
    name: str
    unit: str = Field(description="m³, kg or L")
    quantity: Decimal = Field(description="to 0.01")
    amount: Decimal = Field(description="元, to the fen")
    deliveries: int | None = Field(default=None, description="how many deliveries (null for gas)")


class LastYear(BaseModel):
    month: str
    total: Decimal | None = Field(description="元; null (shown —) when that month has no data")
    meals: int | None
    cost_per_meal: Decimal | None


class CanteenMonth(BaseModel):
    payer: str
    payer_name: str
    month: str
    fuels: list[FuelLine]
    total: Decimal = Field(description="元: the sum of the fuels' amounts")
    meals: int | None
    meals_from: Literal["days", "month", "none"] = Field(description="day figures win over a month figure")
    cost_per_meal: Decimal | None = Field(description="元 per meal, to the fen; null (—) without meals")
    target_per_meal: Decimal | None = Field(description="fuel_targets in the billing file; null: none set")
    over_target: Decimal | None = Field(description="cost per meal − target (元): positive over, negative under")
    last_year: LastYear


class FuelAccount(BaseModel):
    site: str
    site_name: str
    month: str
    timezone: str
    generated_at: dt.datetime
    currency: Literal["CNY"] = "CNY"
    canteens: list[CanteenMonth]
    total: Decimal = Field(description="元: the canteens' totals added")
    convention: str = Field(description="how the figures are made")


CONVENTION = ("燃气按表计与燃气价格计费; 瓶装液化气、柴油、煤等按送货日期计入当月 (数量 × 单价, 每笔四舍五入到分); "
              "每餐燃料成本 = 燃料成本合计 ÷ 就餐人次; 按日录入的就餐人次优先于按月录入",
              "gas from its meters and the gas tariff; delivered fuel is costed in the month delivered (quantity × "
              "unit price, each delivery to the fen); cost per meal = total fuel cost ÷ meals; meals entered by day "
              "win over a month figure")


def canteens(book: Book) -> list[Payer]:
    return [p for p in book.billing.payers if p.type is PayerType.CANTEEN]


def last_year(month: str) -> str:
    y, m = month.split("-")
    return f"{int(y) - 1:04d}-{m}"


def _gas_lines(statement: Statement | None) -> list[Line]:
    return [] if statement is None else [ln for ln in statement.lines if ln.kind is TariffKind.GAS]


def _gas_read(lines: list[Line]) -> bool:
    """Any gas meter with readings around the month (both its registers known)."""
    return any(ln.section == "use" and ln.start_register is not None and ln.end_register is not None
               and ln.start_register.value is not None and ln.end_register.value is not None for ln in lines)


def fuel_lines(gas: list[Line], deliveries: list[Delivery], language: str) -> list[FuelLine]:
    out: list[FuelLine] = []
    if gas:
        m3 = sum((ln.use for ln in gas if ln.section in ("use", "allowance", "remainder")), Decimal(0))
        out.append(FuelLine(fuel="gas", name=_say(language, GAS), unit="m³", quantity=m3.quantize(FEN),
                            amount=sum((ln.amount for ln in gas), Decimal("0.00"))))
    groups: dict[tuple[str, str, str], list[Delivery]] = {}
    for d in deliveries:
        unit, _ = d.counted
        groups.setdefault((d.fuel.value, d.fuel_name, unit), []).append(d)
    for (fuel, name, unit), ds in groups.items():
        shown = name if fuel == "other" or language.startswith("zh") else FUEL_NAMES[ds[0].fuel][1]
        out.append(FuelLine(fuel=fuel, name=shown, unit=unit,
                            quantity=sum((d.counted[1] for d in ds), Decimal(0)).quantize(FEN, ROUND_HALF_UP),
                            amount=sum((d.amount for d in ds), Decimal("0.00")), deliveries=len(ds)))
    return out


def per_meal(total: Decimal | None, meals: int | None) -> Decimal | None:
    if total is None or not meals:
        return None
    return (total / meals).quantize(FEN, rounding=ROUND_HALF_UP)


def canteen_month(payer: Payer, month: str, target: Decimal | None, now: tuple[list[Line], list[Delivery],
                  list[Meals]], before: tuple[list[Line], list[Delivery], list[Meals]],
                  language: str) -> CanteenMonth:
    gas, deliveries, meals = now
    lines = fuel_lines(gas, deliveries, language)
    total = sum((f.amount for f in lines), Decimal("0.00"))
    n, source = meals_of_month(meals)
    cpm = per_meal(total, n)
    gas0, deliveries0, meals0 = before
    has0 = _gas_read(gas0) or bool(deliveries0)
    total0 = sum((f.amount for f in fuel_lines(gas0, deliveries0, language)), Decimal("0.00")) if has0 else None
    n0, _ = meals_of_month(meals0)
    return CanteenMonth(
        payer=payer.id, payer_name=payer.name, month=month, fuels=lines, total=total, meals=n, meals_from=source,
        cost_per_meal=cpm, target_per_meal=target,
        over_target=None if cpm is None or target is None else cpm - target.quantize(FEN, ROUND_HALF_UP),
        last_year=LastYear(month=last_year(month), total=total0, meals=n0, cost_per_meal=per_meal(total0, n0)))


def account(book: Book, store: FuelStore, month: str, payers: list[Payer],
            statement: Callable[[str, str], Statement], now: dt.datetime, language: str = "zh-CN") -> FuelAccount:
    """The month's account of ``payers`` (canteens of ``book``'s site); ``statement(month, payer)``: that payer's
    statement of a month, asked for only of canteens with a gas meter."""
    site = book.campus.site.id
    targets = {t.payer: t.cost_per_meal for t in book.billing.fuel_targets}
    ids = [p.id for p in payers]
    before = last_year(month)
    got = {m: (store.deliveries(site, payers=ids, month=m), store.meals(site, payers=ids, month=m))
           for m in (month, before)}
    out = []
    for p in payers:
        has_gas = any(h.device.kind.value == "gas" for h in book.holdings.get(p.id, []))

        def part(m: str, p: Payer = p, has_gas: bool = has_gas) -> tuple[list[Line], list[Delivery], list[Meals]]:
            ds, ms = got[m]
            gas: list[Line] = []
            if has_gas:
                try:
                    gas = _gas_lines(statement(m, p.id))
                except NoPrice:
                    if m == month:
                        raise  # this month's gas cannot be priced: say so
                    # last year, before the tariff's first version: no gas figure to compare (rule 7)
            return gas, [d for d in ds if d.payer == p.id], [x for x in ms if x.payer == p.id]

        out.append(canteen_month(p, month, targets.get(p.id), part(month), part(before), language))
    return FuelAccount(site=site, site_name=book.campus.site.name, month=month, timezone=book.campus.site.timezone,
                       generated_at=now, canteens=out, total=sum((c.total for c in out), Decimal("0.00")),
                       convention=_say(language, CONVENTION))


# -- XLSX ------------------------------------------------------------------------------------
Cell = str | int | Decimal | None


def _or_dash(x: Decimal | int | None) -> Cell:
    return DASH if x is None else x


Sheet = tuple[str, list[str], list[list[Cell]]]  # name, headers, rows


def sheets(a: FuelAccount, deliveries_of: list[Delivery], language: str) -> list[Sheet]:
    zh = language.startswith("zh")
    summary: list[list[Cell]] = [
        [c.payer_name, c.total, _or_dash(c.meals), _or_dash(c.cost_per_meal), _or_dash(c.target_per_meal),
         _or_dash(c.over_target), _or_dash(c.last_year.total), _or_dash(c.last_year.meals),
         _or_dash(c.last_year.cost_per_meal)] for c in a.canteens]
    summary.append(["合计" if zh else "Total", a.total, None, None, None, None, None, None, None])
    fuels: list[list[Cell]] = [[c.payer_name, f.name, f.unit, f.quantity, f.amount, _or_dash(f.deliveries)]
                               for c in a.canteens for f in c.fuels]
    names = {c.payer: c.payer_name for c in a.canteens}
    deliveries: list[list[Cell]] = [
        [d.day.isoformat(), names.get(d.payer, d.payer),
         d.fuel_name if zh or d.fuel.value == "other" else FUEL_NAMES[d.fuel][1], d.quantity,
         _say(language, UNIT_NAMES[d.unit]), d.kg_per_bottle, d.unit_price, d.amount, d.supplier, d.entered_by,
         d.photo[:12] if d.photo else None] for d in deliveries_of]
    return [
        ("汇总" if zh else "Summary",
         ["食堂", "燃料成本合计 元", "就餐人次", "每餐燃料成本 元", "目标 元/餐", "超目标 元/餐", "去年同期燃料成本 元",
          "去年同期就餐人次", "去年同期每餐 元"] if zh else
         ["Canteen", "Fuel cost 元", "Meals", "Cost per meal 元", "Target 元/meal", "Over target 元/meal",
          "Same month last year 元", "Meals last year", "Per meal last year 元"], summary),
        ("燃料" if zh else "Fuels", ["食堂", "燃料", "单位", "数量", "金额 元", "送货次数"] if zh else
         ["Canteen", "Fuel", "Unit", "Quantity", "Amount 元", "Deliveries"], fuels),
        ("送货记录" if zh else "Deliveries",
         ["日期", "食堂", "燃料", "数量", "单位", "每瓶 kg", "单价 元", "金额 元", "供应商", "录入人", "收据"]
         if zh else
         ["Date", "Canteen", "Fuel", "Quantity", "Unit", "kg per bottle", "Unit price 元", "Amount 元", "Supplier",
          "Entered by", "Receipt"], deliveries)]


def _safe(v: Cell) -> Cell:
    if isinstance(v, str):
        return str(spreadsheet_safe(v))
    return v


FIXED = dt.datetime(2000, 1, 1)  # noqa: DTZ001 - what the file says it was made and changed at: bytes do not move


def render_xlsx(a: FuelAccount, deliveries: list[Delivery], language: str) -> bytes:
    """The account as XLSX: a sheet of canteens, one of fuels, one of ``deliveries`` (the month's), each under
    a title row. Amounts are numbers to the fen (Decimal, shown #,##0.00), "—" where there is no figure; text
    through ``spreadsheet_safe``. The same account gives the same bytes (fixed times inside the file)."""
    zh = language.startswith("zh")
    title = f"{a.site_name} {a.month} " + ("燃料成本核算专账" if zh else "canteens' fuel account")
    wb = Workbook()
    wb.remove(wb.active)
    for name, headers, rows in sheets(a, deliveries, language):
        ws = wb.create_sheet(name)
        ws.append([spreadsheet_safe(title)])
        ws.append([spreadsheet_safe(h) for h in headers])
        for cell in ws[2]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="center")
        for row in rows:
            ws.append([_safe(v) for v in row])
        for row_cells in ws.iter_rows(min_row=3):
            for cell in row_cells:
                if isinstance(cell.value, Decimal):
                    cell.number_format = "#,##0.00"
                elif isinstance(cell.value, int) and not isinstance(cell.value, bool):
                    cell.number_format = "#,##0"
        for col, header in enumerate(headers, start=1):
            ws.column_dimensions[get_column_letter(col)].width = max(12, min(40, len(header) * 2))
        ws.freeze_panes = "A3"
    wb.properties.created = FIXED
    buf = io.BytesIO()
    wb.save(buf)
    return fixed(buf.getvalue())


_STAMP = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def fixed(xlsx: bytes) -> bytes:
    """The same workbook with every time in it fixed (the zip entries' dates, the document's created and
    modified), so equal content gives equal bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = _STAMP.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", data)
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, data)
    return out.getvalue()
