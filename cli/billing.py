"""``meterwatch billing``: check a billing file against the campus, and a month's statements offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "tariffs, payers and statements (内部结算): check the billing file, print or write a statement"


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bil = sub.add_parser("billing", help=HELP, description=HELP)
    bsub = bil.add_subparsers(dest="billing_command", required=True, metavar="COMMAND")
    ch = bsub.add_parser(
        "check", help="validate a billing file: tariffs, payers, shared meters, the incomer, incentives",
        description="Reads the billing file and checks it against the campus: every band covers the day exactly "
                    "once, versions are in date order, every payer's meters and buildings exist, no meter is billed "
                    "twice, every tariff is of the right kind. Prints each payer with its meters and tariffs, or "
                    "what to fix (file, line, field) and exits 1.")
    ch.add_argument("file", type=Path, help="the billing YAML (e.g. billing/sample_billing.yaml)")
    st = bsub.add_parser(
        "statement", help="a month's statement of one payer, or every payer's total (JSON, CSV, XLSX, PDF)",
        description="The month's statement from the roll-ups of the data directory (brought up to date first, "
                    "with a progress bar), priced by the billing file named in the config ([billing] file) or "
                    "--file. Without --payer: every payer's total and their sum against the incomer's cost.")
    st.add_argument("--month", required=True, help="YYYY-MM, e.g. 2026-10")
    st.add_argument("--payer", default=None, help="the payer's id (see `meterwatch billing check FILE`)")
    st.add_argument("--format", choices=["json", "csv", "xlsx", "pdf"], default=None,
                    help="default: from the -o file's extension, else json")
    st.add_argument("-o", "--output", type=Path, default=None, help="file to write; default standard output")
    st.add_argument("--file", type=Path, default=None, help="billing YAML; default: the config's [billing] file")
    st.add_argument("--site", default=None, help="the site (needed when there are several)")
    st.add_argument("--lang", choices=["zh-CN", "en"], default=None, help="default: the config's language")
    for p in (ch, st):
        p.add_argument("--config", type=Path, default=None, help="TOML config (data_dir, store, [billing])")
        p.add_argument("--campus", type=Path, default=None,
                       help="campus file or directory when the data directory has none")
    bil.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return check(args) if args.billing_command == "check" else statement(args)


def check(args: argparse.Namespace) -> int:
    from app.reporting import load_campus_for
    from app.settings import load_settings
    from billing.book import Book
    from billing.config import billing_for, load_billing

    settings = load_settings(args.config)
    files = load_billing(args.file)
    sites: list[str | None] = [s for s in files if s is not None] or [None]
    for site in sites:
        campus = load_campus_for(settings, args.campus, site)
        book = Book.build(campus, billing_for(files, campus.site.id))
        print(f"{campus.site.name} ({campus.site.id}): {len(book.tariffs)} 个电价/tariffs, "
              f"{len(book.payers)} 个结算方/payers")
        for p in book.billing.payers:
            held = ", ".join(h.device.id + (f"×{h.share:.3f}" if h.share != 1 else "") +
                             (f" −{'−'.join(c.id for c in h.less)}" if h.less else "")
                             for h in book.holdings.get(p.id, []))
            tariffs = ", ".join(f"{k.value}: {t}" for k, t in p.tariffs.items())
            print(f"  {p.id:20} {p.name}  [{tariffs}]  {held or '—'}")
        for kind, inc in book.billing.incomer.items():
            print(f"  进线 incomer {kind.value}: {inc.meter} @ {inc.tariff}, remainder {inc.remainder.value}")
    print("billing file OK", file=sys.stderr)
    return 0


def statement(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from app.reporting import OfflineUsage
    from app.settings import load_settings
    from billing.desk import BillingDesk
    from reports.energy import month_bounds

    fmt = args.format or (args.output.suffix.lstrip(".").lower() if args.output else "json")
    if fmt not in ("json", "csv", "xlsx", "pdf"):
        print(f"meterwatch billing: cannot tell the format from {args.output}: add --format", file=sys.stderr)
        return 2
    if fmt in ("xlsx", "pdf") and args.output is None:
        print(f"meterwatch billing: {fmt} is binary: give -o FILE", file=sys.stderr)
        return 2
    try:
        month_bounds(args.month)
    except ValueError as exc:
        print(f"meterwatch billing: {exc}", file=sys.stderr)
        return 2
    overrides = {"billing": {"file": args.file}} if args.file is not None else {}
    settings = load_settings(args.config, **overrides)
    language = args.lang or settings.language
    usage = OfflineUsage(settings, args.campus)
    desk = BillingDesk(settings.data_dir, settings.billing, lambda: usage.campuses, usage)
    try:
        site = usage.site(args.site)
        site.refresh(progress=lambda devices: tqdm(devices, desc="汇总 rolling up", unit="meter", disable=None,
                                                   leave=False))
        biller = desk.biller(site.site_id, args.month, language=language, refresh=False)
        from billing.render import render_statement, render_summary

        if args.payer is not None:
            st = desk.statement(biller, args.payer)
            data = st.model_dump_json(indent=1).encode() if fmt == "json" else render_statement(st, fmt, language)[0]
            what = f"the {args.month} statement of {st.payer_name}"
        else:
            summary, _ = desk.summary(biller)
            data = (summary.model_dump_json(indent=1).encode() if fmt == "json"
                    else render_summary(summary, fmt, language)[0])
            what = f"the {args.month} statements' summary"
    finally:
        desk.close()
        usage.close()
    if args.output is None:
        sys.stdout.buffer.write(data)
        return 0
    args.output.write_bytes(data)
    print(f"已生成 {args.output} ({len(data):,} bytes) · wrote {what}", file=sys.stderr)
    return 0
