"""PDF (A4 landscape): the summary, a bar chart per energy type (use by building), then every table.

Chinese text needs a font with CJK glyphs. Preferred: a TrueType font, embedded (subset) so the PDF
reads the same on any machine: ``[report] pdf_font`` or the first Debian CJK font found. On a bare
machine with neither, Adobe's standard Chinese font STSong-Light (a CID font every PDF reader
provides: nothing to install, nothing embedded; reportlab ships its metrics) so the report still
works after the first install command alone.
"""

from __future__ import annotations

import io
from pathlib import Path
from xml.sax import saxutils

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from campus.errors import ConfigError
from reports.config import FONT_CANDIDATES, ReportSettings
from reports.energy import EnergyReport
from reports.render.energy_tables import KIND_NAMES, fmt, tables
from reports.render.energy_tables import Table as View

FONT = "MeterwatchCJK"
COLOURS = {"electricity": colors.HexColor("#d98c00"), "water": colors.HexColor("#1f77b4"),
           "gas": colors.HexColor("#c0392b")}


class FontMissing(ConfigError):
    pass


FALLBACK_CID = "STSong-Light"
# characters STSong-Light's character collection (Adobe-GB1) lacks, written plainly when it is the font
_PLAIN = str.maketrans({"³": "3", "²": "2", "₂": "2", "·": "・", "•": "・", "‧": "・"})
_fallback = False


def _plain(text: str) -> str:
    """The text as the font in use can show it (the fallback font lacks a few characters)."""
    return text.translate(_PLAIN) if _fallback else text


def escape(text: str) -> str:
    """Text for a Paragraph: markup escaped (names come from spreadsheets), and plain for the fallback font."""
    return saxutils.escape(_plain(text))


def font_path(settings: ReportSettings) -> Path | None:
    """The TrueType font to embed; None: none installed (the CID fallback is used)."""
    if settings.pdf_font is not None:
        if not settings.pdf_font.is_file():
            raise FontMissing(f"[report] pdf_font = {settings.pdf_font}: no such file")
        return settings.pdf_font
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    return None


def _register(settings: ReportSettings) -> None:
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    path = font_path(settings)
    global _fallback  # noqa: PLW0603 - fonts register once per process, and so does this choice
    _fallback = path is None
    if path is None:
        font = UnicodeCIDFont(FALLBACK_CID)
        font.name = font.fontName = FONT  # the styles name one font, whichever it is
        pdfmetrics.registerFont(font)
        return
    kw = {"subfontIndex": 0} if path.suffix.lower() == ".ttc" else {}
    pdfmetrics.registerFont(TTFont(FONT, str(path), **kw))


def _table(view: View, width: float, large: bool = False, rows: slice = slice(None)) -> Table:
    """``view`` as a table (only ``rows`` of it: the header row with the first of them)."""
    head, cell, num = (BIG_HEAD, BIG_CELL, BIG_NUM) if large else (HEAD, CELL, CELL_NUM)
    header = rows.start in (None, 0)
    body = [[Paragraph(escape(h), head) for h in view.headers]] if header else []
    for row in view.rows[rows]:
        body.append([Paragraph(escape(fmt(v, d)), num if d is not None else cell)
                     for v, d in zip(row, view.decimals, strict=True)])
    t = Table(body or [[""] * len(view.headers)], repeatRows=1 if header else 0,
              colWidths=_widths(view, width, head.fontSize))
    t.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        *([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5"))] if header else []),
    ]))
    return t


def _text_width(text: str) -> int:
    """Roughly how wide a text is, in Latin characters (a Chinese character is two)."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _weights(view: View) -> list[float]:
    """Each column's share of the width: by its longest cell (a header counts half: it may wrap, but not inside a
    word), so a column of notes is wide and a column of counts narrow."""
    out: list[float] = []
    for i, (header, decimals) in enumerate(zip(view.headers, view.decimals, strict=True)):
        words = [_text_width(w) for w in header.split()]  # a header may wrap between its words, not inside one
        longest = max([_text_width(fmt(r[i], decimals)) for r in view.rows] + [_text_width(header) // 2, *words])
        out.append(min(max(longest, 6), 48))
    return out


PADDING = 12  # a cell's left and right padding together (reportlab's default 6 + 6), points


def _widths(view: View, width: float, size: float) -> list[float]:
    """Each column's width: its share by :func:`_weights`, but never narrower than its longest word (a Latin
    word, a number: what a cell cannot wrap; Chinese wraps between any two characters), so that nothing is broken
    inside a word or clipped. The room it needs is taken from the columns with room to spare, in proportion to
    their spare room. When every column fits its share, the shares are the widths."""
    weights = _weights(view)
    widths = [width * w / sum(weights) for w in weights]
    least = []
    for i, (header, decimals) in enumerate(zip(view.headers, view.decimals, strict=True)):
        words = header.split() + [w for r in view.rows for w in fmt(r[i], decimals).split()]
        whole = [w for w in words if not any(ord(ch) > 0x2E80 for ch in w)]  # Chinese wraps between characters
        least.append(max((pdfmetrics.stringWidth(_plain(w), FONT, size) for w in whole), default=0.0) + PADDING)
    short = sum(max(0.0, m - w) for m, w in zip(least, widths, strict=True))
    spare = sum(max(0.0, w - m) for m, w in zip(least, widths, strict=True))
    if short <= 0 or spare < short:  # all fit; or nothing can: the shares as they are
        return widths
    return [m if w <= m else w - (w - m) * short / spare for m, w in zip(least, widths, strict=True)]


CHART_HEIGHT = 210
KEEP_WITH_HEADING = 40 * mm  # a heading, a header row and about six rows


def _chart(report: EnergyReport, kind: str, zh: bool, width: float) -> Drawing:
    field = {"electricity": "electricity_kwh", "water": "water_m3", "gas": "gas_m3"}[kind]
    unit = "kWh" if kind == "electricity" else "m³"
    rows = [b for b in report.buildings if getattr(b.figures, field) > 0] or report.buildings
    d = Drawing(width, CHART_HEIGHT)
    title = (f"{KIND_NAMES[kind][0]} · 各建筑本月用量 ({unit})" if zh
             else f"{KIND_NAMES[kind][1]} by building this month ({unit})")
    d.add(String(0, CHART_HEIGHT - 12, _plain(title), fontName=FONT, fontSize=10))
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 40, 60, width - 50, CHART_HEIGHT - 85
    chart.data = [[round(getattr(b.figures, field), 1) for b in rows]]
    chart.categoryAxis.categoryNames = [b.name for b in rows]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.angle = 30
    chart.categoryAxis.labels.boxAnchor = "ne"
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    chart.bars[0].fillColor = COLOURS[kind]
    d.add(chart)
    return d


def render(report: EnergyReport, settings: ReportSettings) -> bytes:
    _register(settings)
    zh = report.language.startswith("zh")
    buf = io.BytesIO()
    page = landscape(A4)
    doc = SimpleDocTemplate(buf, pagesize=page, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm,
                            bottomMargin=12 * mm, title=f"{report.site_name} {report.month}",
                            author="meterwatch")
    width = page[0] - 24 * mm
    title = (f"{report.site_name} {report.month} 能源资源消耗月报" if zh
             else f"{report.site_name} — energy and water report, {report.month}")
    sub = (f"统计周期 {report.period_start:%Y-%m-%d} 至 {report.period_end:%Y-%m-%d}(不含), 时区 {report.timezone}; "
           f"生成时间 {report.generated_at:%Y-%m-%d %H:%M}" if zh else
           f"Period {report.period_start:%Y-%m-%d} to {report.period_end:%Y-%m-%d} (exclusive), {report.timezone}; "
           f"generated {report.generated_at:%Y-%m-%d %H:%M}")
    views = tables(report)
    # names come from spreadsheets and the API: escaped, never read as reportlab's paragraph markup.
    # Page 1 is the form: the summary beside the three charts, then the sign-off. The tables follow one after
    # another (no page left half empty), each heading kept with its table's first rows.
    charts = Table([[_chart(report, kind, zh, width / 3 - 4 * mm) for kind in ("electricity", "water", "gas")]],
                   colWidths=[width / 3] * 3)
    charts.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story: list[Flowable] = [Paragraph(escape(title), TITLE), Paragraph(escape(sub), CELL), Spacer(1, 3 * mm),
                             _table(_side_by_side(views[0]), width), Spacer(1, 3 * mm), charts,
                             sign_off(zh, width), PageBreak()]
    for view in views[1:]:
        story += _section(view, width)
    doc.build(story)
    return buf.getvalue()


def _side_by_side(view: View) -> View:
    """A long narrow table (the summary) as two halves side by side: half the height, the page's width."""
    half = (len(view.rows) + 1) // 2
    left, right = view.rows[:half], view.rows[half:] + [[""] * len(view.headers)] * (2 * half - len(view.rows))
    return View(view.key, view.title, view.headers * 2, [a + b for a, b in zip(left, right, strict=True)],
                view.decimals * 2, view.note)


def _section(view: View, width: float, large: bool = False, signed: Table | None = None) -> list[Flowable]:
    """A table under its heading: a new page first unless there is room for the heading and the table's first rows
    (no orphaned heading), then the table, split over pages as it must be (its header row repeated), and its note.
    Tables follow one another on a page: no page is left half empty for a table that would not fit whole.
    ``signed``: sign-off fields after the note, kept on a page with the table's last rows."""
    tail = max(0, len(view.rows) - 3) if signed is not None else len(view.rows)
    out: list[Flowable] = [CondPageBreak(KEEP_WITH_HEADING), Paragraph(escape(view.title), H2)]
    if tail > 0 or signed is None or not view.rows:  # else the whole table goes with the sign-off: one header row
        out.append(_table(view, width, large, slice(0, tail)))
    end: list[Flowable] = [_table(view, width, large, slice(tail, None))] if tail < len(view.rows) else []
    if not view.rows:  # a table with nothing in it says so, not just its header
        end.append(Paragraph(escape("(无)" if view.headers and _text_width(view.headers[0]) > len(view.headers[0])
                                    else "(none)"), BIG_CELL if large else CELL))
    if view.note:
        end += [Spacer(1, 1.5 * mm), Paragraph(escape(view.note), CELL)]
    if signed is not None:
        return [*out, KeepTogether([*end, Spacer(1, 2 * mm), signed])]
    return [*out, *end, Spacer(1, 6 * mm)]


def sign_off(zh: bool, width: float) -> Table:
    """填报人 / 审核人 / 日期: signed by hand on the printed form."""
    gap = "\u00a0" * 5  # room to write in (a Paragraph would fold plain spaces into one)
    labels = (["填报人(签字)：", "审核人(签字)：", f"日期：{gap * 2}年{gap}月{gap}日"] if zh else
              ["Prepared by (signature):", "Reviewed by (signature):", "Date:"])
    t = Table([[Paragraph(escape(x), SIGN) for x in labels]], colWidths=[width / 3] * 3, rowHeights=[14 * mm])
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                           ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                           ("RIGHTPADDING", (0, 0), (-1, -1), 10 * mm)]))
    return t


def render_views(title: str, sub: str, views: list[View], settings: ReportSettings, *,
                 notice: bool = False, signed: str | None = None) -> bytes:
    """A plain report: a title, a line under it, then each view as a table (the district report). ``notice``: A4
    portrait in large type, to be put up on a wall (上墙公示). ``signed``: the sign-off fields at the end, in this
    language."""
    _register(settings)
    buf = io.BytesIO()
    page = A4 if notice else landscape(A4)
    doc = SimpleDocTemplate(buf, pagesize=page, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm,
                            bottomMargin=12 * mm, title=title, author="meterwatch")
    width = page[0] - 24 * mm
    story: list[Flowable] = [Paragraph(escape(title), TITLE), Paragraph(escape(sub), CELL), Spacer(1, 4 * mm)]
    for i, view in enumerate(views):  # a two-column summary needs half the page; every other table all of it
        # a report handed in is signed by who made it and who checked it, under its last table's last rows
        sign = sign_off(signed.startswith("zh"), width) if signed is not None and i == len(views) - 1 else None
        story += _section(view, width * (0.5 if len(view.headers) <= 2 and not notice else 1), notice, sign)
    doc.build(story)
    return buf.getvalue()


TITLE = ParagraphStyle("title", fontName=FONT, fontSize=16, leading=22, spaceAfter=4)
H2 = ParagraphStyle("h2", fontName=FONT, fontSize=12, leading=16, spaceAfter=3)
SIGN = ParagraphStyle("sign", fontName=FONT, fontSize=10, leading=13)
HEAD = ParagraphStyle("head", fontName=FONT, fontSize=7.5, leading=9.5)
CELL = ParagraphStyle("cell", fontName=FONT, fontSize=7.5, leading=9.5)
CELL_NUM = ParagraphStyle("num", parent=CELL, alignment=2)
BIG_HEAD = ParagraphStyle("bighead", fontName=FONT, fontSize=11, leading=14)
BIG_CELL = ParagraphStyle("bigcell", fontName=FONT, fontSize=11, leading=14)
BIG_NUM = ParagraphStyle("bignum", parent=BIG_CELL, alignment=2)
