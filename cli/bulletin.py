"""``meterwatch bulletin``: the monthly bulletin (通报) shown, or sent with its PDF to the heads in the roster."""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

HELP = "the monthly bulletin (通报): each department and building against its target, sent to the heads"


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    b = sub.add_parser("bulletin", help=HELP)
    bsub = b.add_subparsers(dest="bulletin_command", required=True, metavar="ACTION")
    show = bsub.add_parser("show", help="print the bulletin (JSON or CSV) or write it (-o FILE)")
    send = bsub.add_parser(
        "send", help="send the bulletin's PDF to the people under bulletin: in the duty roster",
        description="Renders the month's bulletin as a PDF and sends it, attached, through each listed person's "
                    "channels (e-mail and the others apprise can attach to). Run it on the day the office sends "
                    "the bulletin, e.g. from a systemd timer with --month last on the 3rd.")
    for p in (show, send):
        p.add_argument("--month", required=True, help="YYYY-MM, or 'last' for last month")
        p.add_argument("--site", default=None, help="the site (needed when there are several)")
        p.add_argument("--lang", choices=["zh-CN", "en"], default=None)
        p.add_argument("--config", type=Path, default=None, help="TOML config")
    show.add_argument("--format", choices=["json", "csv", "xlsx", "pdf"], default="json")
    show.add_argument("-o", "--output", type=Path, default=None)
    b.set_defaults(run=run)


def _month(text: str) -> str:
    if text == "last":
        return (datetime.now().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    from reports.energy import month_bounds

    month_bounds(text)
    return text


def run(args: argparse.Namespace) -> int:
    from alerts.channels import SendFailed, send_file
    from alerts.roster import DutyRoster, load_rosters, roster_of
    from app.reporting import OfflineUsage, monthly_bulletin
    from app.settings import load_settings
    from reports.render import bulletin_filename, render_bulletin

    try:
        month = _month(args.month)
    except ValueError as exc:
        print(f"meterwatch bulletin: {exc}", file=sys.stderr)
        return 2
    settings = load_settings(args.config)
    usage = OfflineUsage(settings)
    try:
        site = usage.site(args.site)
        bulletin = monthly_bulletin(site, settings, month, args.lang or settings.language)
        campus = site.campus
    finally:
        usage.close()
    if args.bulletin_command == "show":
        data = render_bulletin(bulletin, args.format, settings.report)
        if args.output is None:
            sys.stdout.buffer.write(data)
        else:
            args.output.write_bytes(data)
        return 0
    from zoneinfo import ZoneInfo

    from campus.calendar import CampusCalendar

    roster = DutyRoster(roster_of(load_rosters(settings.alerts.roster_file), campus.site.id),
                        CampusCalendar(campus.calendar), ZoneInfo(campus.site.timezone))
    people = [roster.people[p] for p in roster.file.bulletin]
    if not people:
        print("meterwatch bulletin: nobody to send it to: list people under bulletin: in the duty roster "
              "([alerts] roster_file)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / bulletin_filename(bulletin, "pdf")
        pdf.write_bytes(render_bulletin(bulletin, "pdf", settings.report))
        over = [x for x in bulletin.lines if x.over]
        title = f"{bulletin.site_name} {month} 能源使用情况通报"
        body = (f"{month} 能源使用情况通报见附件: {len(bulletin.lines)} 项指标, {len(over)} 项超标。\n"
                f"Energy use bulletin for {month} attached: {len(bulletin.lines)} targets, {len(over)} over.")
        failed = 0
        for person in people:
            for channel, url in roster.urls(person):
                try:
                    send_file(url, title, body, pdf)
                    print(f"已发送 sent to {person.name} ({person.id}) via {channel}")
                except SendFailed as exc:
                    failed += 1
                    print(f"未发送 not sent to {person.id} via {channel}: {exc}", file=sys.stderr)
    return 1 if failed else 0
