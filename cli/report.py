"""``meterwatch report``: a site's monthly energy report, and the district's ranking of every site."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "reports for the logistics office, the environmental bureau and the district"


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rep = sub.add_parser("report", help=HELP)
    rsub = rep.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    en = rsub.add_parser(
        "energy", help="monthly energy report (能源资源消耗月报): JSON, CSV, XLSX or PDF",
        description="Electricity, water and gas per building and department for one month, in standard coal "
                    "(GB/T 2589-2020) and CO2, per person and per floor area, month-on-month, year-on-year, "
                    "against the campus file's targets, with data completeness per meter and the month's alerts. "
                    "Reads the store named in the config; the daily roll-ups are brought up to date first "
                    "(a progress bar shows it; the first time over a year of data takes a while).")
    en.add_argument("--site", default=None, help="the site to report on (needed when there are several)")
    di = rsub.add_parser(
        "district", help="every site's month ranked (各校能耗排名): JSON, CSV, XLSX or PDF",
        description="For each site of the registry: its month's energy in standard coal, CO2, electricity, water "
                    "and gas, per m² and per person, year on year and against its targets (the same figures as "
                    "its own monthly report), ranked by energy per m², lowest first. Sites with thin data are "
                    "marked. A progress bar shows the roll-ups being brought up to date, then the sites.")
    for p in (en, di):
        p.add_argument("--month", required=True, help="YYYY-MM, e.g. 2026-10")
        p.add_argument("--format", choices=["json", "csv", "xlsx", "pdf"], default=None,
                       help="default: from the -o file's extension, else json")
        p.add_argument("-o", "--output", type=Path, default=None,
                       help="file to write; default standard output (json/csv)")
        p.add_argument("--lang", choices=["zh-CN", "en"], default=None, help="default: the config's language (zh-CN)")
        p.add_argument("--config", type=Path, default=None, help="TOML config (data_dir, store, [report])")
        p.add_argument("--campus", type=Path, default=None,
                       help="campus file or directory when the data directory has none")
    ret = rsub.add_parser(
        "return", help="the annual public-institution return (公共机构能源资源消费统计): XLSX, PDF or JSON",
        description="A site's return for one calendar year in the form's layout (基本信息 and 能源资源消费状况): each "
                    "energy's quantity from the meters' roll-ups (electricity, water, natural gas) or as entered "
                    "(fuels, heat), its cost from the billing file where it prices every month, else as entered; "
                    "floor area and energy users as entered, else the campus file's buildings added up; vehicles "
                    "as entered. Enter values with PUT /api/v1/returns/YEAR/entries. A sheet lists what is still "
                    "to enter or check. Due by [returns] deadline (31 March) of the following year.")
    ret.add_argument("--year", type=int, required=True, help="the calendar year reported, e.g. 2026")
    ret.add_argument("--site", default=None, help="the site (needed when there are several)")
    ret.add_argument("--format", choices=["json", "xlsx", "pdf"], default=None,
                     help="default: from the -o file's extension, else json")
    ret.add_argument("-o", "--output", type=Path, default=None, help="file to write; default standard output (json)")
    ret.add_argument("--lang", choices=["zh-CN", "en"], default=None, help="default: the config's language (zh-CN)")
    ret.add_argument("--config", type=Path, default=None, help="TOML config (data_dir, store, [billing], [returns])")
    ret.add_argument("--campus", type=Path, default=None,
                     help="campus file or directory when the data directory has none")
    rep.set_defaults(run=run)


def run_return(args: argparse.Namespace) -> int:
    """``meterwatch report return``: the annual return, as XLSX or JSON."""
    import time

    from app.annual_return import annual_return
    from app.reporting import OfflineUsage
    from app.settings import load_settings
    from campus.db import DataDir
    from records.return_entries import ReturnEntries
    from reports.render.return_xlsx import render_return

    fmt = args.format or (args.output.suffix.lstrip(".").lower() if args.output else "json")
    if fmt not in ("json", "xlsx", "pdf"):
        print(f"meterwatch report return: cannot tell the format from {args.output}: add --format json|xlsx|pdf",
              file=sys.stderr)
        return 2
    if fmt in ("xlsx", "pdf") and args.output is None:
        print(f"meterwatch report return: {fmt} is binary: give -o FILE", file=sys.stderr)
        return 2
    if not 2001 <= args.year <= 2099:
        print(f"meterwatch report return: --year {args.year}: give a year between 2001 and 2099", file=sys.stderr)
        return 2
    settings = load_settings(args.config)
    usage = OfflineUsage(settings, args.campus)
    entries = ReturnEntries(DataDir(settings.data_dir).records)
    try:
        got = annual_return(usage.site(args.site), settings, entries, args.year,
                            language=args.lang or settings.language, now_ms=int(time.time() * 1000))
    finally:
        entries.close()
        usage.close()
    if fmt == "pdf":
        from reports.render.return_pdf import render_return_pdf

        data = render_return_pdf(got, settings.report)
    else:
        data = render_return(got) if fmt == "xlsx" else got.model_dump_json(indent=2).encode()
    if args.output is None:
        sys.stdout.buffer.write(data)
        return 0
    args.output.write_bytes(data)
    print(f"已生成 {args.output} ({len(data):,} bytes) · wrote the {args.year} annual return"
          + (f"; {len(got.to_fix)} item(s) to enter or check (sheet 待核对)" if got.to_fix else ""), file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.report_command == "return":
        return run_return(args)
    from tqdm import tqdm

    from app.reporting import OfflineUsage, district_report, monthly_report
    from app.settings import load_settings
    from reports.energy import month_bounds
    from reports.render import render, render_district

    fmt = args.format or (args.output.suffix.lstrip(".").lower() if args.output else "json")
    if fmt not in ("json", "csv", "xlsx", "pdf"):
        print(f"meterwatch report: cannot tell the format from {args.output}: add --format", file=sys.stderr)
        return 2
    if fmt in ("xlsx", "pdf") and args.output is None:
        print(f"meterwatch report: {fmt} is binary: give -o FILE", file=sys.stderr)
        return 2
    try:
        month_bounds(args.month)
    except ValueError as exc:
        print(f"meterwatch report: {exc}", file=sys.stderr)
        return 2
    settings = load_settings(args.config)
    language = args.lang or settings.language
    usage = OfflineUsage(settings, args.campus)
    try:
        usage.refresh(progress=lambda devices: tqdm(devices, desc="汇总 rolling up", unit="meter", disable=None,
                                                    leave=False))
        if args.report_command == "district":
            district = district_report(usage, settings, args.month, language, refresh=False,
                                       progress=lambda sites: tqdm(sites, desc="各校 sites", unit="site",
                                                                   disable=None))
            data, what = render_district(district, fmt, settings.report), f"the {args.month} district report"
        else:
            report = monthly_report(usage.site(args.site), settings, args.month, language, refresh=False)
            data, what = render(report, fmt, settings.report), f"the {report.month} energy report"
    finally:
        usage.close()
    if args.output is None:
        sys.stdout.buffer.write(data)
        return 0
    args.output.write_bytes(data)
    print(f"已生成 {args.output} ({len(data):,} bytes) · wrote {what}", file=sys.stderr)
    return 0
