"""``meterwatch rules check``: the rule file, the duty roster and the emergency plans against the campus, and who is
on duty now."""

from __future__ import annotations

import argparse
from pathlib import Path
from zoneinfo import ZoneInfo

from app.samples import sample_campus
from campus.errors import ConfigError


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rl = sub.add_parser("rules", help="check the alert rules, the duty roster and the emergency plans")
    rsub = rl.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    chk = rsub.add_parser("check", help="validate the rule file, roster and plans, show who is on duty now",
                          description="Loads [alerts] rules_file and roster_file and [records] plans_file "
                                      "(defaults: the packaged rules, no roster, no plans) against the campus file, "
                                      "reports the first problem with file and line (a plan's: the plan, the step "
                                      "and what to use instead), else lists the rules, the devices each watches, "
                                      "who is on duty and each plan with what raises it.")
    chk.add_argument("--config", type=Path, default=None, help="TOML config")
    chk.add_argument("--rules", type=Path, default=None, help="rule file (overrides the config)")
    chk.add_argument("--roster", type=Path, default=None, help="duty roster (overrides the config)")
    chk.add_argument("--plans", type=Path, default=None, help="emergency plans file or directory (overrides the "
                     "config)")
    chk.add_argument("--campus", type=Path, default=None, help="campus YAML or directory (overrides the config)")
    chk.add_argument("--site", default=None, help="the site to check (needed when there are several)")
    chk.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import time

    from alerts.plans import PlanBook, known_rules, load_plans, plans_folder, plans_of
    from alerts.roster import DutyRoster, load_rosters, roster_of
    from alerts.rules import RuleBook, load_rules
    from app.settings import load_settings
    from campus.calendar import CampusCalendar
    from campus.model import load_sites

    settings = load_settings(args.config)
    sites = {c.site.id: c for c in load_sites(args.campus or settings.campus.file or sample_campus())}
    if args.site is None and len(sites) > 1:
        raise ConfigError(f"{len(sites)} sites: name one with --site ({', '.join(list(sites)[:8])})")
    campus = sites[args.site] if args.site in sites else next(iter(sites.values())) if args.site is None else None
    if campus is None:
        raise ConfigError(f"no site {args.site!r} (sites: {', '.join(list(sites)[:8])})")
    rules = load_rules(args.rules or settings.alerts.rules_file)
    roster_path = args.roster or settings.alerts.roster_file
    roster = DutyRoster(roster_of(load_rosters(roster_path), campus.site.id), CampusCalendar(campus.calendar),
                        ZoneInfo(campus.site.timezone))
    book = RuleBook(rules, campus)
    print(f"规则 rules: {len(rules.rules)} ({len(book.rules)} enabled)")
    for r in rules.rules:
        watched = sum(1 for d in campus.devices if r in book.by_device[d.id])
        state = "" if r.enabled else "  [停用 disabled]"
        print(f"  {r.id:28} {r.severity.value:8} {r.category.value:7} {watched:3} devices  {r.name.zh}{state}")
    now = int(time.time() * 1000)
    plans_path = args.plans or settings.records.plans_file
    if plans_path is not None:
        plans = PlanBook(plans_of(load_plans(plans_path), campus.site.id), campus, known_rules(rules),
                         roster.file.role_names(), plans_folder(plans_path))
        print(f"应急预案 plans: {len(plans.plans)}")
        for p in plans.plans.values():
            raised = ", ".join([*p.activates.rules, *(c.value for c in p.activates.categories)]) or "演练 drills only"
            print(f"  {p.id:20} {len(p.steps)} steps, {len(p.places)} places, drilled {p.drill:5}  {p.name.zh}"
                  f"  ← {raised}")
    else:
        print("应急预案 plans: none — no alert opens a plan (set [records] plans_file)")
    if roster_path is None:
        print("值班表 roster: none — alerts go to MQTT only (set [alerts] roster_file)")
        return 0
    print(f"值班表 roster: {len(roster.people)} people, {len(roster.file.shifts)} shifts, "
          f"{len(roster.file.routes)} routes")
    for zone in campus.zones:
        people = ", ".join(f"{p.name}({p.id})" for p in roster.on_duty(zone.id, now)) or "—"
        print(f"  now on duty 当前值班  {zone.name}: {people}")
    return 0
