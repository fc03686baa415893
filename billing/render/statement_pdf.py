"""The statement as an A4 page a contractor signs (内部结算单), and the summary of every payer on one page.

The statement: the title, who and what (site, payer and its type, month, generated in the site's time zone); one
table of the lines, grouped by meter (its name, its id small beside it, the energy and the tariff), each line a
band of a version period with its registers (≈: interpolated, see the footnote), multiplier, share, use, price and
amount; then the other charges (allowance, remainder, fees, demand, capacity, reward or penalty); the total in
figures and in capital numerals (大写金额); the meter events; the footnotes; the three signatures.

The lines are one table per meter, its heading row repeated on the pages it goes on to, and the column header row
drawn at the top of every later page by the page template; every text from a spreadsheet or the API is escaped
(never read as markup) and cut to ``NAME_MAX`` characters so that no row outgrows a page. Fonts are the reports'
(``reports.render.pdf``). The same statement gives the same bytes: reportlab's invariant mode fixes the creation
date and the document id.
"""

from __future__ import annotations

import io
import math
from decimal import Decimal
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    NextPageTemplate,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from billing.render import rows as r
from billing.statements import BAND_NAMES, Line, Register, Statement, Summary
from reports.config import ReportSettings
from reports.render import pdf as base
from reports.render.energy_tables import KIND_NAMES

MARGIN = 14 * mm
TOP, BOTTOM = 14 * mm, 16 * mm
WIDTH = A4[0] - 2 * MARGIN
NAME_MAX = 120
FONT = base.FONT
TITLE = ParagraphStyle("st-title", fontName=FONT, fontSize=16, leading=22, alignment=1, spaceAfter=4)
INFO = ParagraphStyle("st-info", fontName=FONT, fontSize=9, leading=12)
CELL = ParagraphStyle("st-cell", fontName=FONT, fontSize=7.5, leading=9.5)
CELL_NUM = ParagraphStyle("st-num", parent=CELL, alignment=2)
NOTE = ParagraphStyle("st-note", fontName=FONT, fontSize=7, leading=9)
H2 = ParagraphStyle("st-h2", fontName=FONT, fontSize=10, leading=14, spaceBefore=4, spaceAfter=2)
WORDS = ParagraphStyle("st-words", fontName=FONT, fontSize=9.5, leading=12)
SIGN = ParagraphStyle("st-sign", fontName=FONT, fontSize=9.5, leading=13)
GROUP_BG = colors.HexColor("#e8eef5")
HEAD_BG = colors.HexColor("#d5dfeb")
TOTAL_BG = colors.HexColor("#f3f3f3")
BAND_ORDER = {band: i for i, band in enumerate(BAND_NAMES)}  # sharp, peak, flat, valley, deep valley, tiers


def short(text: str, n: int = NAME_MAX) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def fit(text: str, width: float, size: float) -> str:
    """``text`` cut (with …) to ``width`` points in the font at ``size``."""
    if stringWidth(text, FONT, size) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if stringWidth(text[:mid] + "…", FONT, size) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "…"


def plain(text: str) -> str:
    """Text for a plain table cell (not markup): cut, and as the font in use can show it."""
    return base._plain(short(text))  # noqa: SLF001 - the reports' font choice, shared


def para(text: str, style: ParagraphStyle = CELL, limit: int = NAME_MAX) -> Paragraph:
    return Paragraph(base.escape(short(text, limit)), style)


def money(x: Decimal) -> str:
    return f"{x:,.2f}"


def price(x: Decimal) -> str:
    exponent = x.as_tuple().exponent
    return f"{x:f}" if isinstance(exponent, int) and exponent < -2 else f"{x:.2f}"  # its own places, at least 2


def register(reg: Register | None) -> str:
    if reg is None or reg.value is None:
        return "—"
    if not math.isfinite(reg.value):
        return str(reg.value)
    text = f"{reg.value:,.3f}".rstrip("0")
    text = text + "0" * (2 - len(text.split(".")[1]))
    return ("≈" if reg.interpolated else "") + text


def percent(share: float) -> str:
    return f"{share * 100:.4g}%"


def period(line: Line) -> str:
    return f"{line.start:%m-%d}–{line.end:%m-%d}"


def kind_name(line: Line, language: str) -> str:
    return r.pick(KIND_NAMES, line.kind.value if line.kind is not None else None, language)


class _Grid:
    """The table's rows and their styles, built together, laid out as one table per meter (its heading row first,
    repeated at the top of a page it goes on to), each of at most ``CHUNK`` rows: reportlab splits a table over
    pages at a cost that grows with its rows times its spans, so a 2000-line statement in one table takes seconds.
    The column header row comes first; on later pages the page template draws it (``_document``)."""

    COLUMNS = ((("时段/项目", "band / item"), 0.16), (("期间", "days"), 0.10), (("起码", "start reg."), 0.115),
               (("止码", "end reg."), 0.115), (("倍率", "mult."), 0.06), (("分摊", "share"), 0.06),
               (("用量", "use"), 0.13), (("单价(元/单位)", "price (CNY/unit)"), 0.13),
               (("金额(元)", "amount (CNY)"), 0.13))
    CHUNK = 60
    BASE = (("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 7.5),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("ALIGN", (2, 0), (-1, -1), "RIGHT"), ("TOPPADDING", (0, 0), (-1, -1), 1.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5))

    def __init__(self, language: str) -> None:
        self.language = language
        self.rows: list[list[Any]] = []
        # (command, first column, first row, last column, last row, *arguments), rows of the whole grid
        self.style: list[tuple[Any, ...]] = []
        self.groups: list[tuple[int, str]] = []  # (first row, heading as markup)
        self.together: list[tuple[int, int]] = []  # row ranges kept on one page

    def widths(self) -> list[float]:
        return [WIDTH * w for _, w in self.COLUMNS]

    def header(self) -> Table:
        """The column header row alone (first, and at the top of every later page)."""
        t = Table([[para(r.say(self.language, zh, en), CELL if i < 2 else CELL_NUM)
                    for i, ((zh, en), _) in enumerate(self.COLUMNS)]], colWidths=self.widths())
        t.setStyle(TableStyle([*self.BASE, ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG)]))
        return t

    def group(self, text: str) -> None:
        self.groups.append((len(self.rows), text))

    def line(self, cells: list[Any], span: tuple[int, int] | None = None) -> None:
        n = len(self.rows)
        self.rows.append(cells)
        if span is not None:
            self.style.append(("SPAN", span[0], n, span[1], n))

    def total(self, label: str, amount: Decimal, words: str) -> None:
        n = len(self.rows)
        self.rows.append([plain(label)] + [""] * 7 + [money(amount)])
        self.rows.append([para(words, WORDS)] + [""] * 8)
        self.style += [("SPAN", 0, n, 7, n), ("SPAN", 0, n + 1, -1, n + 1),
                       ("BACKGROUND", 0, n, -1, n + 1, TOTAL_BG), ("FONTSIZE", 0, n, -1, n, 9)]
        self.together.append((max(n - 1, 0), n + 1))  # the total with the last line

    def _pieces(self) -> list[tuple[int, str | None, int, int]]:
        """(group, heading, first row, end row): each group cut into ``CHUNK`` rows, never between rows kept
        together (lines before the first group: group -1, no heading)."""
        starts: list[tuple[int, str | None]] = list(self.groups)
        if not starts or starts[0][0] != 0:
            starts.insert(0, (0, None))
        starts.append((len(self.rows), None))
        out: list[tuple[int, str | None, int, int]] = []
        for g, ((lo, heading), (hi, _)) in enumerate(zip(starts, starts[1:], strict=False)):
            a = lo
            while a < hi:
                b = min(a + self.CHUNK, hi)
                for r0, r1 in self.together:
                    if a < r0 < b <= r1:
                        b = r0
                out.append((g, heading, a, b))
                a = b
        return out

    def tables(self) -> list[Flowable]:
        out: list[Flowable] = [self.header()]
        pieces = self._pieces()
        for k, (g, heading, lo, hi) in enumerate(pieces):
            again = k > 0 and pieces[k - 1][0] == g
            head = [] if heading is None else [[Paragraph(
                heading + (base.escape(r.say(self.language, "（续）", " (continued)")) if again else ""), CELL)]
                + [""] * 8]
            top = len(head)
            cmds: list[tuple[Any, ...]] = list(self.BASE)
            if head:
                cmds += [("SPAN", (0, 0), (-1, 0)), ("BACKGROUND", (0, 0), (-1, 0), GROUP_BG)]
            for cmd, c0, r0, c1, r1, *args in self.style:
                if lo <= r0 < hi:
                    cmds.append((cmd, (c0, r0 - lo + top), (c1, min(r1, hi - 1) - lo + top), *args))
            cmds += [("NOSPLIT", (0, r0 - lo + top), (-1, min(r1, hi - 1) - lo + top))
                     for r0, r1 in self.together if lo <= r0 < hi]
            t = Table(head + self.rows[lo:hi], colWidths=self.widths(), repeatRows=top)
            t.setStyle(TableStyle(cmds))
            out.append(t)
        return out


def _use_rows(grid: _Grid, s: Statement, language: str) -> None:
    by_meter: dict[tuple[str, str], list[Line]] = {}
    for ln in s.lines:
        if ln.section == "use":
            by_meter.setdefault((ln.meter or "", ln.tariff or ""), []).append(ln)
    for lines in by_meter.values():
        first = lines[0]
        bits = [kind_name(first, language), first.tariff_name or ""]
        if first.share is not None and first.share != 1:
            bits.append(r.say(language, f"分摊 {percent(first.share)}", f"share {percent(first.share)}"))
        if first.less:
            bits.append(r.say(language, "已扣减子表 ", "less sub-meters ") + short(" ".join(first.less), 60))
        grid.group(f"{base.escape(short(first.meter_name or first.meter or ''))} "
                   f"<font size=6 color='#666666'>{base.escape(short(first.meter or '', 40))}</font>　"
                   + base.escape(" · ".join(b for b in bits if b)))
        for ln in sorted(lines, key=lambda x: (x.start, BAND_ORDER.get(x.band or "", len(BAND_ORDER)))):
            share = percent(ln.share) if ln.share is not None and ln.share != 1 else ""
            band = r.line_band(ln, language) + (" †" if ln.estimated_share > 0 else "")
            grid.line([plain(band), period(ln), register(ln.start_register), register(ln.end_register),
                       f"{ln.multiplier:g}" if ln.multiplier is not None else "", share,
                       f"{money(ln.use)} {plain(ln.unit)}", price(ln.price), money(ln.amount)])


def _other_rows(grid: _Grid, s: Statement, language: str) -> None:
    others = [ln for ln in s.lines if ln.section != "use"]
    if not others:
        return
    grid.group(base.escape(r.say(language, "其他费用", "Other charges")))
    for ln in others:
        item = " · ".join(x for x in (kind_name(ln, language), r.pick(r.SECTIONS, ln.section, language)) if x)
        grid.line([para(item), period(ln), para(ln.note or ln.tariff_name or ""), "", "", "",
                   f"{money(ln.use)} {plain(ln.unit)}", price(ln.price), money(ln.amount)], span=(2, 5))


def _footnotes(s: Statement, language: str) -> list[Flowable]:
    out: list[Flowable] = []
    regs = [g for ln in s.lines for g in (ln.start_register, ln.end_register) if g is not None]
    if any(g.interpolated for g in regs):
        out.append(para(r.say(language, "≈ 插值: 该时刻没有读数, 按其前后两次读数线性插值 (所用读数见结算单 JSON)。",
                              "≈ interpolated: no reading at that instant; interpolated linearly between the "
                              "readings around it (listed in the statement's JSON)."), NOTE, 2000))
    if any(g.value is None for g in regs):
        out.append(para(r.say(language, "— 该时刻之前没有读数。", "— no reading before that instant."), NOTE))
    estimated = {(ln.meter_name or ln.meter or ""): ln.estimated_share for ln in s.lines
                 if ln.section == "use" and ln.estimated_share > 0}
    if estimated:
        which = ", ".join(f"{short(m, 40)} {percent(x)}" for m, x in list(estimated.items())[:20])
        out.append(para(r.say(language, f"† 估算: 该表读数间隔长于一小时, 其用量在各时段间按时长比例分摊; "
                                        f"估算占比: {which}。",
                              f"† estimated: the meter is read less often than hourly, so its use is split "
                              f"between bands pro rata; share estimated: {which}."), NOTE, 2000))
    return out


def _events(s: Statement, language: str) -> list[Flowable]:
    if not s.events:
        return []
    out: list[Flowable] = [para(r.say(language, "表计事件 (换表/归零)", "Meter events (replacement, reset)"), H2)]
    for e in s.events:
        at = f"{r.local(e.at, s.timezone):%Y-%m-%d %H:%M}"
        what = r.pick(r.EVENTS, e.flag, language)
        out.append(para(r.say(language, f"{short(e.meter_name, 60)}: {what}, 旧表止码 {e.raw_from:,.2f} → "
                                        f"新表起码 {e.raw_to:,.2f}, 时间 {at}",
                              f"{short(e.meter_name, 60)}: {what}, old register {e.raw_from:,.2f} → "
                              f"new register {e.raw_to:,.2f}, at {at}"), NOTE, 400))
    return out


def _signatures(labels: list[str], language: str) -> Table:
    gap = "\u00a0" * 6
    date = r.say(language, f"日期：{gap * 2}年{gap}月{gap}日", "Date:")
    t = Table([[para(x, SIGN) for x in labels], [para(date, SIGN) for _ in labels]],
              colWidths=[WIDTH / len(labels)] * len(labels), rowHeights=[16 * mm, 9 * mm])
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("RIGHTPADDING", (0, 0), (-1, -1), 6 * mm),
                           ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black)]))
    return t


def _info(pairs: list[tuple[str, str]], language: str) -> Table:
    """Label-value pairs two to a row."""
    colon = r.say(language, "：", ": ")
    cells = [[para(f"{label}{colon}{value}", INFO)] for label, value in pairs]
    rows = [cells[i][0:1] + (cells[i + 1] if i + 1 < len(cells) else [""]) for i in range(0, len(cells), 2)]
    t = Table(rows, colWidths=[WIDTH / 2] * 2)
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return t


def _fonts(settings: ReportSettings | None) -> None:
    base._register(settings or ReportSettings())  # noqa: SLF001 - the reports' fonts, registered once


def _document(story: list[Flowable], title: str, footer: str, header: Table | None = None) -> bytes:
    """Build ``story`` on A4 with the footer on every page. ``header``: a table's header row, drawn at the top of
    the pages after the first while the template is "table" (the story switches to it, and back to "plain")."""
    buf = io.BytesIO()
    doc = BaseDocTemplate(buf, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=TOP, bottomMargin=BOTTOM,
                          title=short(title, 200), author="meterwatch", creator="meterwatch", invariant=1)
    height = A4[1] - TOP - BOTTOM
    head_height = header.wrap(WIDTH, height)[1] if header is not None else 0.0

    def footing(canvas: Canvas, document: BaseDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.setFillColor(colors.grey)
        canvas.drawString(MARGIN, 8 * mm, fit(base._plain(footer), WIDTH - 12 * mm, 7))  # noqa: SLF001
        canvas.drawRightString(A4[0] - MARGIN, 8 * mm, f"{document.page}")
        canvas.restoreState()

    def heading(canvas: Canvas, document: BaseDocTemplate) -> None:
        footing(canvas, document)
        if header is not None:
            header.drawOn(canvas, MARGIN, A4[1] - TOP - head_height)

    def frame(top: float = 0.0) -> Frame:
        return Frame(MARGIN, BOTTOM, WIDTH, height - top, leftPadding=0, rightPadding=0, topPadding=0,
                     bottomPadding=0)

    doc.addPageTemplates([PageTemplate("first", [frame()], onPage=footing),
                          PageTemplate("table", [frame(head_height)], onPage=heading),
                          PageTemplate("plain", [frame()], onPage=footing)])
    doc.build([NextPageTemplate("table" if header is not None else "plain"), *story])
    return buf.getvalue()


def statement(s: Statement, language: str, settings: ReportSettings | None = None) -> bytes:
    _fonts(settings)
    head = r.statement_head(s, language)
    grid = _Grid(language)
    _use_rows(grid, s, language)
    _other_rows(grid, s, language)
    label, words = r.in_words(s.total, language)
    grid.total(r.say(language, "合计 (元)", "Total (CNY)"), s.total, f"{label}：{words}")
    signers = [r.say(language, "结算方（承包方）签字：", "Payer (contractor), signature:"),
               r.say(language, "后勤处经办人：", "Logistics office, handled by:"),
               r.say(language, "后勤处负责人：", "Logistics office, approved by:")]
    story: list[Flowable] = [para(head[0][0], TITLE), _info(head[1:], language), Spacer(1, 3 * mm),
                             *grid.tables(), NextPageTemplate("plain"),
                             Spacer(1, 2 * mm), *_footnotes(s, language), *_events(s, language),
                             KeepTogether([Spacer(1, 6 * mm), _signatures(signers, language)])]
    footer = f"{s.site_name} · {s.payer_name} · {s.month} · " + r.say(language, "内部结算单", "statement")
    return _document(story, f"{s.payer_name} {s.month}", footer, grid.header())


def summary(s: Summary, language: str, settings: ReportSettings | None = None) -> bytes:
    _fonts(settings)
    head = r.summary_head(s, language)
    payers = [[para(r.PAYER_COLUMNS[0].title(language)), para(r.PAYER_COLUMNS[2].title(language)),
               para(r.PAYER_COLUMNS[3].title(language), CELL_NUM)]]
    payers += [[para(p.payer_name), plain(r.pick(r.PAYER_TYPES, p.payer_type, language)), money(p.total)]
               for p in s.payers]
    payers.append([plain(r.say(language, "合计", "total")), "", money(s.payers_total)])
    pt = Table(payers, colWidths=[WIDTH * 0.5, WIDTH * 0.25, WIDTH * 0.25], repeatRows=1)
    pt.setStyle(_plain_style(len(payers), numbers_from=2))
    cols = [r.INCOMER_COLUMNS[i] for i in (0, 1, 4, 5, 6, 7, 8)]
    inc: list[list[Any]] = [[para(c.title(language), CELL if i < 2 else CELL_NUM) for i, c in enumerate(cols)]]
    inc += [[plain(r.pick(KIND_NAMES, i.kind.value, language)), para(i.meter_name), money(i.use),
             money(i.main_meters_use), money(i.remainder_use),
             "—" if i.average_price is None else price(i.average_price), money(i.amount)] for i in s.incomer]
    inc.append([plain(r.say(language, "合计", "total"))] + [""] * 5 + [money(s.incomer_total)])
    it = Table(inc, colWidths=[WIDTH * w for w in (0.1, 0.22, 0.13, 0.13, 0.13, 0.14, 0.15)], repeatRows=1)
    it.setStyle(_plain_style(len(inc), numbers_from=2))
    totals = Table([[para(label), money(x)] for label, x in r.summary_totals(s, language)],
                   colWidths=[WIDTH * 0.75, WIDTH * 0.25])
    totals.setStyle(_plain_style(3, header=False))
    story: list[Flowable] = [
        para(head[0][0], TITLE), _info(head[1:], language), Spacer(1, 3 * mm),
        para(r.say(language, "各结算方", "Payers"), H2), pt,
        para(r.say(language, "进线 (供电局/自来水公司/燃气公司计量)", "Incomers (the utility's meters)"), H2), it,
        para(r.say(language, "学校承担", "The school's share"), H2), totals, Spacer(1, 1.5 * mm),
        para(r.say(language, "学校承担 = 进线费用 − 各结算方合计: 学校自用、损耗及未分摊的未计量用量。",
                   "The school's share = the incomers' cost − what the payers pay: its own use, losses and "
                   "unmetered use it keeps."), NOTE, 400),
        KeepTogether([Spacer(1, 6 * mm), _signatures([r.say(language, "后勤处经办人：", "Handled by:"),
                                                       r.say(language, "后勤处负责人：", "Approved by:")], language)])]
    return _document(story, f"{s.site_name} {s.month}", f"{s.site_name} · {s.month} · "
                     + r.say(language, "能源费用结算汇总", "energy charges, every payer"))


def _plain_style(n: int, header: bool = True, numbers_from: int = 1) -> TableStyle:
    return TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("ALIGN", (numbers_from, 0), (-1, -1), "RIGHT"),
        *([("BACKGROUND", (0, 0), (-1, 0), HEAD_BG)] if header else []),
        ("BACKGROUND", (0, n - 1), (-1, n - 1), TOTAL_BG)])
