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
from reportlab.platypus import Flowable, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

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


def _table(view: View, width: float, large: bool = False) -> Table:
    head, cell, num = (BIG_HEAD, BIG_CELL, BIG_NUM) if large else (HEAD, CELL, CELL_NUM)
    body = [[Paragraph(escape(h), head) for h in view.headers]]
    for row in view.rows:
        body.append([Paragraph(escape(fmt(v, d)), num if d is not None and not isinstance(v, str) else cell)
                     for v, d in zip(row, view.decimals, strict=True)])
    t = Table(body, repeatRows=1, colWidths=[width / len(view.headers)] * len(view.headers))
    t.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    return t


def _chart(report: EnergyReport, kind: str, zh: bool, width: float) -> Drawing:
    field = {"electricity": "electricity_kwh", "water": "water_m3", "gas": "gas_m3"}[kind]
    unit = "kWh" if kind == "electricity" else "m³"
    rows = [b for b in report.buildings if getattr(b.figures, field) > 0] or report.buildings
    d = Drawing(width, 200)
    title = (f"{KIND_NAMES[kind][0]} · 各建筑本月用量 ({unit})" if zh
             else f"{KIND_NAMES[kind][1]} by building this month ({unit})")
    d.add(String(0, 188, _plain(title), fontName=FONT, fontSize=11))
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 50, 45, width - 70, 130
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
    # names come from spreadsheets and the API: escaped, never read as reportlab's paragraph markup
    story: list[Flowable] = [Paragraph(escape(title), TITLE), Paragraph(escape(sub), CELL), Spacer(1, 4 * mm),
                             _table(views[0], width * 0.6), PageBreak()]
    for kind in ("electricity", "water", "gas"):
        story += [_chart(report, kind, zh, width), Spacer(1, 4 * mm)]
    for view in views[1:]:
        story += [PageBreak() if view.key in ("buildings", "completeness") else Spacer(1, 6 * mm),
                  Paragraph(escape(view.title), H2), _table(view, width)]
        if view.note:
            story.append(Paragraph(escape(view.note), CELL))
    doc.build(story)
    return buf.getvalue()


def render_views(title: str, sub: str, views: list[View], settings: ReportSettings, *,
                 notice: bool = False) -> bytes:
    """A plain report: a title, a line under it, then each view as a table (the district report). ``notice``: A4
    portrait in large type, to be put up on a wall (上墙公示)."""
    _register(settings)
    buf = io.BytesIO()
    page = A4 if notice else landscape(A4)
    doc = SimpleDocTemplate(buf, pagesize=page, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm,
                            bottomMargin=12 * mm, title=title, author="meterwatch")
    width = page[0] - 24 * mm
    story: list[Flowable] = [Paragraph(escape(title), TITLE), Paragraph(escape(sub), CELL), Spacer(1, 4 * mm)]
    for view in views:  # a two-column summary needs half the page; every other table all of it
        story += [Paragraph(escape(view.title), H2),
                  _table(view, width * (0.5 if len(view.headers) <= 2 and not notice else 1), notice)]
        if view.note:
            story += [Spacer(1, 1.5 * mm), Paragraph(escape(view.note), CELL)]
        story.append(Spacer(1, 6 * mm))
    doc.build(story)
    return buf.getvalue()


TITLE = ParagraphStyle("title", fontName=FONT, fontSize=16, leading=22, spaceAfter=4)
H2 = ParagraphStyle("h2", fontName=FONT, fontSize=12, leading=16, spaceAfter=3)
HEAD = ParagraphStyle("head", fontName=FONT, fontSize=7.5, leading=9.5)
CELL = ParagraphStyle("cell", fontName=FONT, fontSize=7.5, leading=9.5)
CELL_NUM = ParagraphStyle("num", parent=CELL, alignment=2)
BIG_HEAD = ParagraphStyle("bighead", fontName=FONT, fontSize=11, leading=14)
BIG_CELL = ParagraphStyle("bigcell", fontName=FONT, fontSize=11, leading=14)
BIG_NUM = ParagraphStyle("bignum", parent=BIG_CELL, alignment=2)
