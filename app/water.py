"""The water balance's alerts (水平衡): checked every ``[water] check_s`` against yesterday, raised and resolved
through the alert desk like the records' alerts (reports computes the balance; alerts do not import reports, so
the two meet here).

The plain rules:
- Each balance (the site's incomer against its buildings' mains; each main meter against its sub-meters, see
  ``reports.water_balance``) is judged on **yesterday** in the site's time zone, the last whole day.
- Yesterday's loss beyond its limit (``[water] balance_site_pct``, ``balance_building_pct``) raises one ``data``
  alert, ``water-balance``, per balance: subject ``water-balance:site`` or ``water-balance:BUILDING``, routed to the
  incomer's or the building's zone. It names where the gap is, the meters and the numbers.
- A later day back within the limit resolves it. A day that cannot be judged (a meter short of readings) changes
  nothing.
"""

from __future__ import annotations

import datetime as dt
import logging

from alerts.book import NewAlert
from alerts.desk import AlertDesk, SiteDesk
from alerts.rules import RECORD_RULES
from app.periodic import Periodic
from campus.clock import Clock
from campus.labels import Name
from campus.model import Campus
from reports.usage import Usage
from reports.water_balance import Balance, Point, balances, incomers, mains
from reports.water_config import WaterSettings

log = logging.getLogger("meterwatch.water")
RULE = "water-balance"


def balance_alert(b: Balance, p: Point, campus: Campus, language: str, now_ms: int) -> NewAlert:
    """What a balance beyond its limit says: where the gap is, the meters, the day's numbers."""
    rule = RECORD_RULES[RULE]
    assert p.loss_pct is not None  # noqa: S101  (only judged days are alerted)
    assert p.loss_m3 is not None  # noqa: S101
    if b.level == "site":
        meter = next(iter(incomers(campus)), None)
        where = Name(zh=f"{b.name}：进水总表（{'、'.join(b.inflow)}）对各楼总表合计",
                     en=f"{b.name}: the incomer ({', '.join(b.inflow)}) against the buildings' main meters")
        building = meter.building if meter is not None else None
    else:
        meter = next((d for d in mains(campus) if d.building == b.key and (d.name or d.id) in b.inflow), None)
        where = Name(zh=f"{b.name}：总表（{'、'.join(b.inflow)}）对分表（{'、'.join(b.outflow)}）",
                     en=f"{b.name}: the main meter ({', '.join(b.inflow)}) against its sub-meters "
                        f"({', '.join(b.outflow)})")
        building = b.key
    gap = "漏失" if p.loss_m3 >= 0 else "分表多于总表"
    gap_en = "lost" if p.loss_m3 >= 0 else "more out than in"
    detail = Name(zh=f"{where.zh}：{p.period} 进 {p.inflow_m3:.1f} m³，出 {p.outflow_m3:.1f} m³，{gap} "
                     f"{abs(p.loss_m3):.1f} m³（{p.loss_pct:.1f}%），超过限值 {b.limit_pct:g}%",
                  en=f"{where.en}: on {p.period} {p.inflow_m3:.1f} m³ in, {p.outflow_m3:.1f} m³ out, {gap_en} "
                     f"{abs(p.loss_m3):.1f} m³ ({p.loss_pct:.1f}%), beyond the {b.limit_pct:g}% limit")
    texts = {"subject": Name(zh=f"水平衡 · {b.name}", en=f"Water balance · {b.name}"), "detail": detail,
             "limit": Name(zh=f"±{b.limit_pct:g}%", en=f"±{b.limit_pct:g}%"), "unit": Name(zh="%", en="%"),
             "reading": Name(zh=f"{gap} {p.loss_pct:.1f}% · 限值 ±{b.limit_pct:g}%",
                             en=f"{gap_en} {p.loss_pct:.1f}% · limit ±{b.limit_pct:g}%")}
    found = campus.building(building) if building else None
    return NewAlert(rule=RULE, category=rule.category.value, severity=rule.severity.value, subject=b.subject,
                    detail=detail.text(language), ts=now_ms, zone=campus.zone_of(building) if building else None,
                    building=building, device=meter.id if meter is not None else None,
                    department=found.department.value if found else None, value=p.loss_pct,
                    limit=f"±{b.limit_pct:g}%", unit="%", texts=texts)


class WaterWatch:
    """Checks every site's water balance on yesterday and keeps its alerts current."""

    def __init__(self, usage: Usage, alerts: AlertDesk | None, settings: WaterSettings, clock: Clock) -> None:
        self.usage, self.alerts, self.settings, self.clock = usage, alerts, settings, clock
        self._loop = Periodic("mw-water", "the water balance check", self.check)

    def check(self) -> int:
        """One pass over every site; returns how many balances are beyond their limit yesterday."""
        if self.alerts is None:
            return 0
        n = 0
        for site, desk in self.alerts.sites().items():
            try:
                n += self.check_site(site, desk)
            except Exception:  # one site's trouble (its store down) must not stop the others
                log.exception("checking the water balance failed", extra={"site": site})
        return n

    def check_site(self, site: str, desk: SiteDesk) -> int:
        assert self.alerts is not None  # noqa: S101
        usage = self.usage.site(site)
        usage.refresh(wait_s=usage.request_wait_s)
        now = self.clock.now_ms()
        yesterday = dt.datetime.fromtimestamp(now / 1000, usage.tz).date() - dt.timedelta(days=1)
        n = 0
        for b in balances(usage, f"{yesterday:%Y-%m}", self.settings, now, self.alerts.language):
            p = next((d for d in b.days if d.period == yesterday.isoformat()), None)
            if p is None or p.loss_pct is None:
                continue
            if p.beyond:
                desk.book.record(balance_alert(b, p, usage.whole, self.alerts.language, now), now, repeat=False)
                n += 1
            else:
                desk.book.settle(RULE, b.subject, f"{p.period}: {p.loss_pct:.1f}% within ±{b.limit_pct:g}%", now)
        return n

    def keep_checking(self) -> None:
        """A pass every ``[water] check_s`` (the first one after that long) until :meth:`close`; 0: never."""
        if self.alerts is not None:
            self._loop.start(self.settings.check_s)

    def close(self) -> None:
        self._loop.stop()
