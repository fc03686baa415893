"""What a statement and the summary say, as labelled rows: the one source of the CSV, the XLSX and the PDF's words.

A cell is text, a ``Decimal`` (money and use: exact), a float (a register as read) or empty. Each column says how
a spreadsheet shows its numbers (``number_format``); text is made safe for a spreadsheet by the writer
(``reports.render.energy_tables.spreadsheet_safe``), never here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing.render.capital import capital
from billing.statements import BAND_NAMES, Line, Register, Statement, Summary, band_name
from reports.render.energy_tables import KIND_NAMES

Cell = str | Decimal | float | None

PAYER_TYPES = {"department": ("部门", "department"), "canteen": ("食堂承包方", "contracted canteen"),
               "shop": ("商铺", "shop"), "housing": ("教职工住宅", "staff housing"),
               "dorm_room": ("宿舍", "dorm room"), "other": ("其他", "other")}
SECTIONS = {"use": ("用量", "use"), "allowance": ("定额减免", "free allowance"),
            "remainder": ("损耗及公共用量分摊", "losses and unmetered use"), "fixed": ("月固定费", "monthly fee"),
            "demand": ("需量电费", "demand charge"), "capacity": ("容量电费", "capacity charge"),
            "incentive": ("节能奖罚", "reward or penalty")}
EVENTS = {"new_cycle": ("换表或归零", "meter replaced or register reset")}


def say(language: str, zh: str, en: str) -> str:
    return zh if language.startswith("zh") else en


def pick(names: dict[str, tuple[str, str]], key: str | None, language: str) -> str:
    if key is None:
        return ""
    zh, en = names.get(key, (key, key))
    return say(language, zh, en)


def local(at: dt.datetime, timezone: str) -> dt.datetime:
    """``at`` in the site's time zone (a naive time is taken as UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(ZoneInfo(timezone))


def stamp(at: dt.datetime, timezone: str) -> str:
    return f"{local(at, timezone):%Y-%m-%d %H:%M} ({timezone})"


@dataclass(frozen=True)
class Column:
    zh: str
    en: str
    number_format: str | None = None  # a spreadsheet's display format; None: text

    def title(self, language: str) -> str:
        return say(language, self.zh, self.en)


LINE_COLUMNS = (
    Column("项目", "item"), Column("表计", "meter"), Column("表计编号", "meter id"), Column("能源", "energy"),
    Column("价格", "tariff"), Column("起始日", "from"), Column("截止日(含)", "to (inclusive)"),
    Column("时段", "band"), Column("时段代码", "band code"),
    Column("起码", "start register", "0.00##"), Column("起码插值", "start interpolated"),
    Column("止码", "end register", "0.00##"), Column("止码插值", "end interpolated"),
    Column("倍率", "multiplier", "General"), Column("分摊比例", "share", "0.00%"),
    Column("扣减子表", "sub-meters taken off"), Column("用量", "use", "0.00"), Column("单位", "unit"),
    Column("单价(元/单位)", "price (CNY/unit)", "0.00##"), Column("金额(元)", "amount (CNY)", "0.00"),
    Column("估算占比", "estimated share", "0.00%"), Column("备注", "note"),
)
AMOUNT_COLUMN = 19


def _register(reg: Register | None) -> Cell:
    return None if reg is None else reg.value


def _marked(reg: Register | None, language: str) -> str:
    if reg is None or reg.value is None:
        return ""
    return say(language, "是", "yes") if reg.interpolated else say(language, "否", "no")


def line_band(line: Line, language: str) -> str:
    """The band's name in ``language`` (the statement carries it in the language it was made in)."""
    if line.band in BAND_NAMES:
        return band_name(line.band, language)
    return line.band_name or line.band or ""


def line_row(line: Line, language: str) -> list[Cell]:
    """One line, every column (``LINE_COLUMNS``)."""
    kind = line.kind.value if line.kind is not None else None
    return [
        pick(SECTIONS, line.section, language), line.meter_name or "", line.meter or "",
        pick(KIND_NAMES, kind, language), line.tariff_name or "", line.start.isoformat(), line.end.isoformat(),
        line_band(line, language), line.band or "",
        _register(line.start_register), _marked(line.start_register, language),
        _register(line.end_register), _marked(line.end_register, language),
        line.multiplier, line.share, " ".join(line.less), line.use, line.unit, line.price, line.amount,
        line.estimated_share or None, line.note,
    ]


def statement_head(s: Statement, language: str) -> list[tuple[str, str]]:
    """The block above the lines: who, where, which month, when made."""
    return [
        (say(language, "内部结算单 / 能源费用结算", "Internal settlement statement / energy charges"), ""),
        (say(language, "学校/校区", "site"), s.site_name),
        (say(language, "结算方", "payer"), s.payer_name),
        (say(language, "结算方类型", "payer type"), pick(PAYER_TYPES, s.payer_type, language)),
        (say(language, "结算月份", "month"), s.month),
        (say(language, "生成时间", "generated"), stamp(s.generated_at, s.timezone)),
        (say(language, "币种", "currency"), say(language, "人民币(元)", "CNY")),
    ]


def total_row(s: Statement, language: str) -> list[Cell]:
    row: list[Cell] = [None] * len(LINE_COLUMNS)
    row[0] = say(language, "合计", "total")
    row[AMOUNT_COLUMN] = s.total
    return row


def in_words(amount: Decimal, language: str) -> tuple[str, str]:
    """The total in capital numerals (Chinese in both languages: it is what a Chinese settlement carries)."""
    return say(language, "大写金额", "in words (大写)"), "人民币" + capital(amount)


EVENT_COLUMNS = (Column("表计", "meter"), Column("表计编号", "meter id"), Column("事件", "event"),
                 Column("时间", "at"), Column("旧表止码", "old register", "0.00##"),
                 Column("新表起码", "new register", "0.00##"))


def event_rows(s: Statement, language: str) -> list[list[Cell]]:
    return [[e.meter_name, e.meter, pick(EVENTS, e.flag, language), f"{local(e.at, s.timezone):%Y-%m-%d %H:%M}",
             e.raw_from, e.raw_to] for e in s.events]


# -- the summary --------------------------------------------------------------------------------------------
PAYER_COLUMNS = (Column("结算方", "payer"), Column("结算方编号", "payer id"), Column("类型", "type"),
                 Column("金额(元)", "amount (CNY)", "0.00"))
INCOMER_COLUMNS = (Column("能源", "energy"), Column("进线表", "incomer meter"), Column("表计编号", "meter id"),
                   Column("价格编号", "tariff id"), Column("进线用量", "incomer use", "0.00"),
                   Column("各总表用量", "main meters' use", "0.00"),
                   Column("损耗及未计量", "losses and unmetered", "0.00"),
                   Column("平均单价(元)", "average price (CNY)", "0.00##"), Column("金额(元)", "amount (CNY)", "0.00"))


def summary_head(s: Summary, language: str) -> list[tuple[str, str]]:
    return [
        (say(language, "能源费用结算汇总", "Energy charges: every payer"), ""),
        (say(language, "学校/校区", "site"), s.site_name),
        (say(language, "结算月份", "month"), s.month),
        (say(language, "生成时间", "generated"), stamp(s.generated_at, s.timezone)),
        (say(language, "币种", "currency"), say(language, "人民币(元)", "CNY")),
    ]


def payer_rows(s: Summary, language: str) -> list[list[Cell]]:
    return [[p.payer_name, p.payer, pick(PAYER_TYPES, p.payer_type, language), p.total] for p in s.payers]


def incomer_rows(s: Summary, language: str) -> list[list[Cell]]:
    return [[pick(KIND_NAMES, i.kind.value, language), i.meter_name, i.meter, i.tariff, i.use, i.main_meters_use,
             i.remainder_use, i.average_price, i.amount] for i in s.incomer]


def summary_totals(s: Summary, language: str) -> list[tuple[str, Decimal]]:
    return [(say(language, "各结算方合计", "all payers"), s.payers_total),
            (say(language, "进线费用合计", "incomers' cost"), s.incomer_total),
            (say(language, "学校承担 (进线费用 − 各结算方合计)", "the school's share (incomers − payers)"),
             s.school_share)]
