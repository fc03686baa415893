"""The incident report (事件报告) of an alert that activated a plan, and a drill's record (演练记录): its summary, the
plan's steps as they were done, and the timeline — the alert, each message, the acknowledgement, each step, the
resolution — on the site's clock, with the time since the alert was raised beside each. As PDF (A4) to print and
sign, and as data for the console and the API."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import orjson

from alerts.book import AlertBook
from alerts.messages import SEVERITY, lang
from alerts.runs import Run, minutes
from alerts.store import Alert, AlertEvent
from campus.errors import NotFound
from campus.labels import CATEGORIES, SEVERITIES, Name, label
from emergency.drills import Drill, Drills, Figures, figures, first_notice_ms
from reports.config import ReportSettings
from reports.render import pdf
from reports.render.table import DASH, Cell, Table

STATES = {"done": Name(zh="已完成", en="done"), "late": Name(zh="超时完成", en="done late"),
          "skipped": Name(zh="未执行", en="skipped"), "overdue": Name(zh="已超时", en="overdue"),
          "open": Name(zh="待执行", en="open")}
NOTE_CHARS = 300  # a note longer than this is cut in the report's cells (a cell cannot run over a page)
CHANNELS = {"mailto": "邮件", "mailtos": "邮件", "email": "邮件", "sms": "短信", "wecombot": "企业微信",
            "dingtalk": "钉钉", "feishu": "飞书", "json": "Webhook", "mqtt": "MQTT"}


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the timeline."""

    ts_ms: int
    what: Name
    who: str          # a person's name, or "" (the system)
    note: str


def clock(seconds: float | None) -> str:
    """+mm:ss (or +h:mm:ss) since the alert was raised; — when it did not happen."""
    if seconds is None:
        return DASH
    s = max(0, round(seconds))
    h, rest = divmod(s, 3600)
    return f"+{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"+{rest // 60:02d}:{rest % 60:02d}"


def timeline(events: list[AlertEvent], book: AlertBook) -> list[Entry]:
    """What happened to the alert, oldest first, in people's words (retries of a message are left out: the
    message sent, or finally failed, is what counts)."""
    who = book.person_name
    out: list[Entry] = []
    for e in events:
        d = e.detail
        if e.type == "raised":
            out.append(Entry(e.ts_ms, Name(zh="告警产生", en="alert raised"), "", ""))
        elif e.type == "confirmed":
            out.append(Entry(e.ts_ms, Name(zh="实时数据确认告警", en="confirmed by live data"), "", ""))
        elif e.type == "notified":
            ch = str(d.get("channel", ""))
            about = {"raised": ("告警", "alert"), "escalated": ("升级", "escalation"), "acknowledged": ("确认", "ack"),
                     "resolved": ("恢复", "resolution"), "step_late": ("步骤超时", "late step")}.get(
                str(d.get("about")), (str(d.get("about")), str(d.get("about"))))
            out.append(Entry(e.ts_ms, Name(zh=f"{about[0]}通知已送达（{CHANNELS.get(ch, ch)}）",
                                           en=f"{about[1]} message sent ({ch})"), who(e.actor) or "", ""))
        elif e.type == "notify_failed":
            out.append(Entry(e.ts_ms, Name(zh="通知发送失败", en="message failed"), who(e.actor) or "",
                             str(d.get("error", ""))[:120]))
        elif e.type == "escalated":
            to = "、".join(who(p) or p for p in d.get("to", []))
            out.append(Entry(e.ts_ms, Name(zh=f"未确认，升级至第 {d.get('level')} 级",
                                           en=f"not acknowledged: escalated to level {d.get('level')}"), "",
                             f"→ {to}" if to else ""))
        elif e.type == "acknowledged":
            out.append(Entry(e.ts_ms, Name(zh="已确认", en="acknowledged"), who(e.actor) or "",
                             str(d.get("comment") or "")))
        elif e.type == "step_done":
            late = "（超时）" if d.get("late") else ""
            out.append(Entry(e.ts_ms, Name(zh=f"第{d.get('n')}步完成{late}：{d.get('text', '')}",
                                           en=f"step {d.get('n')} done{' late' if d.get('late') else ''}"),
                             who(e.actor) or "", str(d.get("note") or "")))
        elif e.type == "step_late":
            to = "、".join(who(p) or p for p in d.get("to", []))
            out.append(Entry(e.ts_ms, Name(zh=f"第{d.get('n')}步超时：{d.get('text', '')}",
                                           en=f"step {d.get('n')} late"), "", f"→ {to}" if to else ""))
        elif e.type == "severity":
            out.append(Entry(e.ts_ms, Name(zh=f"级别升为{SEVERITY['zh'].get(str(d.get('new')), d.get('new'))}",
                                           en=f"severity now {d.get('new')}"), "", ""))
        elif e.type == "resolved":
            by = "" if e.actor == "system" else who(e.actor) or ""
            out.append(Entry(e.ts_ms, Name(zh="已恢复，预案执行结束", en="resolved: the plan's run closed"), by,
                             str(d.get("reason") or "")))
    return out


def _at(ms: int | None, tz: dt.tzinfo) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%d %H:%M:%S") if ms else DASH


def tables(alert: Alert, run: Run | None, events: list[AlertEvent], book: AlertBook, language: str,
           drill: Drill | None, now_ms: int) -> tuple[str, list[Table], Figures]:
    """(the title, the tables, the figures) of the report."""
    zh = lang(language) == "zh"
    tz = book.settings.tz
    t = (lambda n: n.zh) if zh else (lambda n: n.en)
    start = alert.started_ms
    figs = figures(alert, run, first_notice_ms(book.store, alert.id), now_ms)
    rule = book.rules.rule_name(alert.rule, language)
    where = book.subject_name(alert, language)
    building = book.names.building(alert.building) or DASH
    plan = t(run.name) if run is not None else DASH
    if drill is not None:
        title = f"应急演练记录 #{drill.id} — {plan}" if zh else f"Drill record #{drill.id} — {plan}"
    else:
        title = f"事件报告 — {rule} — {where}" if zh else f"Incident report — {rule} — {where}"
    resolved = alert.status == "resolved"
    summary: list[list[Cell]] = [
        ["告警" if zh else "Alert", f"#{alert.id} {rule}"],
        ["级别 / 类别" if zh else "Severity / category",
         f"{label(SEVERITIES, alert.severity, language)} / {label(CATEGORIES, alert.category, language)}"],
        ["对象" if zh else "About", where], ["楼栋" if zh else "Building", building],
        ["应急预案" if zh else "Emergency plan", plan],
        ["开始" if zh else "Raised", _at(start, tz)],
        ["首次通知" if zh else "First message", f"{_at(start + int(figs.first_notice_s * 1000), tz)} "
         f"({clock(figs.first_notice_s)})" if figs.first_notice_s is not None else DASH],
        ["确认" if zh else "Acknowledged", f"{_at(alert.ack_ms, tz)} ({clock(figs.ack_s)}) "
         f"{book.person_name(alert.ack_by) or ''}".strip() if alert.ack_ms else DASH],
        ["恢复" if zh else "Resolved", f"{_at(alert.resolved_ms, tz)} ({clock(figs.resolved_s)})" if resolved else
         ("未恢复，预案执行中" if zh else "not yet: the plan's run is open")],
        ["步骤" if zh else "Steps", (f"共 {len(figs.steps)} 步，跳过 {figs.skipped} 步，超时 {figs.late} 步" if zh else
                                   f"{len(figs.steps)} steps, {figs.skipped} skipped, {figs.late} late")],
    ]
    if drill is not None:
        summary.insert(0, ["演练" if zh else "Drill", f"#{drill.id}，{_at(drill.started_ms, tz)}，发起人 "
                           f"{drill.started_by}" if zh else f"#{drill.id}, {_at(drill.started_ms, tz)}, started by "
                           f"{drill.started_by}"])
        if drill.chain_result is not None:
            said = drill.chain_result.get("said") or {}
            ok = drill.chain_result.get("ok")
            verdict = ("通过" if ok else "未通过") if zh else ("passed" if ok else "FAILED")
            summary.insert(1, ["技术演练（数据链路）" if zh else "Technical drill (the data path)",
                               f"{verdict} {said.get('zh' if zh else 'en', '')}".strip()])
    steps: list[list[Cell]] = []

    def cut(text: str) -> str:
        more = "…（全文见预案清单）" if zh else "… (in full in the checklist)"
        return text if len(text) <= NOTE_CHARS else text[:NOTE_CHARS] + more

    for s, f in zip(run.steps if run is not None else (), figs.steps, strict=True):
        limit = minutes(s.within_s, zh) if s.within_s is not None else DASH
        steps.append([s.n, t(s.text), book.role_name(s.role, language), limit, _at(s.done_ms, tz),
                      clock(f.done_s), book.person_name(s.done_by) or DASH, t(STATES[f.state]), cut(s.note or "")])
    lines: list[list[Cell]] = [[_at(e.ts_ms, tz), clock((e.ts_ms - start) / 1000), t(e.what), e.who or DASH,
                                cut(e.note)]
                               for e in timeline(events, book)]
    out = [Table("summary", "概况" if zh else "Summary", ["项目" if zh else "Item", "内容" if zh else "Detail"],
                 summary, [None, None])]
    if steps:
        out.append(Table("steps", "处置步骤" if zh else "The plan's steps",
                         ["步骤", "内容", "责任人", "时限", "完成时间", "用时", "完成人", "状态", "备注"] if zh else
                         ["Step", "What", "Who", "Limit", "Done at", "Elapsed", "Done by", "State", "Note"],
                         steps, [0] + [None] * 8))
    note = "用时：自告警产生起算（服务器时钟）。" if zh else "Elapsed: since the alert was raised (server clock)."
    out.append(Table("timeline", "时间线" if zh else "Timeline",
                     ["时间", "用时", "事件", "人员", "说明"] if zh else ["Time", "Elapsed", "Event", "Who", "Note"],
                     lines, [None] * 5, note))
    return title, out, figs


def render(alert: Alert, run: Run | None, events: list[AlertEvent], book: AlertBook, language: str,
           drill: Drill | None, now_ms: int, settings: ReportSettings) -> bytes:
    """The report as PDF, signed at the end by who made it and who checked it."""
    title, views, _ = tables(alert, run, events, book, language, drill, now_ms)
    zh = lang(language) == "zh"
    site = book.rules.campus.site.name
    made = dt.datetime.fromtimestamp(now_ms / 1000, book.settings.tz).strftime("%Y-%m-%d %H:%M")
    sub = f"{site} · 生成时间 {made}" if zh else f"{site} · generated {made}"
    if drill is not None:
        sub += " · 演练，非真实事件" if zh else " · a DRILL, not a real event"
    return pdf.render_views(title, sub, views, settings, signed="zh-CN" if zh else "en")


def as_json(title: str, views: list[Table]) -> bytes:
    """The report's tables as JSON (what the PDF lays out)."""
    return orjson.dumps({"title": title, "tables": [
        {"key": v.key, "title": v.title, "headers": v.headers, "rows": v.rows, "note": v.note} for v in views]},
        default=str)


def drill_record(drills: Drills, book: AlertBook, drill: Drill, language: str, now_ms: int,
                 settings: ReportSettings) -> bytes:
    """A drill's record as PDF: while it runs, as it stands; once it is over, the one filed (filed now if none
    was)."""
    if drill.alert_id is None:
        raise NotFound(f"drill #{drill.id} raised no alert")
    alert = drills.store.get(drill.alert_id)
    filed = drills.filed(drill.id, language) if alert.status == "resolved" else None
    if filed is not None:
        return filed
    pdf = render(alert, book.runs.run(alert.id), drills.store.events(alert.id), book, language, drill, now_ms,
                 settings)
    return drills.file(drill.id, language, pdf, now_ms) if alert.status == "resolved" else pdf
