"""The monthly energy report with the month's alerts and costs: where reports meet alerts and billing (the API and
the CLI). Reports do not import billing: the costs (``app.costs``) and the bulletin's rewards and penalties are
added here, from ``[billing] file``; without one the reports are exactly as before."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from alerts.store import AlertStore
from app.costs import site_biller, with_costs
from app.settings import Settings
from billing.config import Incentive
from billing.incentives import results
from billing.statements import UNITS, Biller
from campus.contract import Kind
from campus.db import DataDir
from campus.errors import ConfigError, NotFound
from campus.model import Campus, load_campus, load_sites
from campus.registry import Registry
from ingest.status import PresenceStore
from ingest.stores import open_store
from reports.bulletin import Bulletin, IncentiveRow, build_bulletin, previous_year_month
from reports.district import DistrictReport, build_district
from reports.energy import AlertCount, ChangeSinceFiled, EnergyReport, FiledNote, build
from reports.filing import FilingStore, changes_since
from reports.usage import SiteUsage, Usage


def monthly_report(usage: SiteUsage, settings: Settings, month: str, language: str, *,
                   alert_store: AlertStore | None = None, refresh: bool = True,
                   filings: FilingStore | None = None) -> EnergyReport:
    """The month's report with its alerts and, once it has been filed, what changed since (``filings``)."""
    report = build(usage, month, settings.report, language=language, refresh=refresh)
    report = with_costs(report, usage, site_biller(usage, settings, report.month, report.generated_at, language))
    if filings is not None:
        report = with_filing(report, filings)
    store = alert_store
    place = settings.datadir().shared_alerts
    if store is None and (not isinstance(place, Path) or place.exists()):
        store = AlertStore(place)
    if store is not None:
        try:
            report = report.model_copy(update={"alerts": [
                AlertCount(category=c, severity=s, raised=n, open=o)
                for c, s, n, o in store.raised_between(int(report.period_start.timestamp() * 1000),
                                                       int(report.period_end.timestamp() * 1000), usage.site_id)]})
        finally:
            if alert_store is None:
                store.close()
    return report


def with_filing(report: EnergyReport, filings: FilingStore, version: int | None = None) -> EnergyReport:
    """The report with its month's newest filing (or ``version``) noted, and the changes since listed (none: not
    filed)."""
    try:
        filing = filings.filing(report.site, report.month, version)
    except NotFound:
        return report
    filed = EnergyReport.model_validate_json(filings.body(report.site, report.month, "json", filing.version))
    changes = [ChangeSinceFiled(building=c.building, building_name=c.building_name, kind=c.kind, unit=c.unit,  # type: ignore[arg-type]
                                filed=c.filed, now=c.now, change=c.delta) for c in changes_since(filed, report)]
    return report.model_copy(update={"filed": FiledNote(
        version=filing.version, filed_at=datetime.fromtimestamp(filing.filed_ms / 1000, report.generated_at.tzinfo),
        filed_by=filing.filed_by, changes=changes)})


def monthly_bulletin(usage: SiteUsage, settings: Settings, month: str, language: str) -> Bulletin:
    """The month's bulletin: the month's report against the same month's a year before."""
    usage.refresh(wait_s=usage.request_wait_s)
    now = build(usage, month, settings.report, language=language, refresh=False)
    before = build(usage, previous_year_month(month), settings.report, language=language, refresh=False)
    bulletin = build_bulletin(usage.campus, now, before, settings.report)
    biller = site_biller(usage, settings, now.month, now.generated_at, language)
    if biller is None:
        return bulletin
    rows = [IncentiveRow(who=r.who, scope="payer" if r.incentive.payer is not None else "building",
                         kind=Kind(r.incentive.kind.value), unit=UNITS[r.incentive.kind], use=r.use, target=r.target,
                         dead_band=r.incentive.dead_band, dead_band_low=r.low, dead_band_high=r.high, units=r.units,
                         outcome=r.outcome, amount=r.amount, capped=r.capped,  # type: ignore[arg-type]
                         coverage=r.coverage, gap=r.gap)
            for r in results(biller, settings.report.completeness_min) if _sees(usage, biller, r.incentive)]
    return bulletin.model_copy(update={"incentives": rows})


def _sees(usage: SiteUsage, biller: Biller, incentive: Incentive) -> bool:
    """Does the asker's view (a token narrowed to zones or buildings) hold what ``incentive`` is about: its
    building, or every meter its payer is billed for?"""
    seen = {d.id for d in usage.campus.devices}
    if incentive.building is not None:
        return incentive.building in {b.id for b in usage.campus.buildings}
    held = biller.book.holdings.get(incentive.payer or "", [])
    return all(h.device.id in seen and all(c.id in seen for c in h.less) for h in held)


def district_report(usage: Usage, settings: Settings, month: str, language: str, *,
                    sites: dict[str, Campus] | None = None, now_ms: int | None = None, refresh: bool = True,
                    progress: Callable[[list[str]], Iterable[str]] | None = None) -> DistrictReport:
    """The district report with each site's costs (where the billing file prices its meters)."""
    def costs(site: SiteUsage, report: EnergyReport) -> EnergyReport:
        return with_costs(report, site, site_biller(site, settings, report.month, report.generated_at, language))

    return build_district(usage, month, settings.report, language=language, sites=sites, now_ms=now_ms,
                          refresh=refresh, progress=progress, costs=costs)


def campus_file_for(settings: Settings, campus_file: Path | None = None) -> Path:
    """The campus file a command falls back on: the one given, the config's, or the sample campus."""
    from app.samples import sample_campus

    return campus_file or settings.campus.file or sample_campus()


def load_campus_for(settings: Settings, campus_file: Path | None = None, site: str | None = None) -> Campus:
    """A site's campus (None: the only one) in the data directory's registry; else from the file of
    :func:`campus_file_for`."""
    registry = Registry(settings.datadir().shared)
    try:
        if registry.campuses:
            return registry.site(site)
    finally:
        registry.close()
    sites = {c.site.id: c for c in load_sites(campus_file_for(settings, campus_file))}
    if site is None:
        return load_campus(campus_file_for(settings, campus_file))
    if site not in sites:
        raise ConfigError(f"no site {site!r} in {campus_file_for(settings, campus_file)}")
    return sites[site]


class OfflineUsage(Usage):
    """Usage opened from a data directory by a command (no running service): the store from the config,
    the campus from the registry (or the campus file), ingest's change log from its database."""

    def __init__(self, settings: Settings, campus_file: Path | None = None) -> None:
        db = DataDir(settings.data_dir).state
        self._registry = Registry(settings.datadir().shared)
        self._presence = PresenceStore(db)
        fallback = {c.site.id: c for c in load_sites(campus_file_for(settings, campus_file))}

        def campuses() -> dict[str, Campus]:
            return self._registry.campuses or fallback  # no campus in the data directory yet: the file's

        super().__init__(settings.data_dir, open_store(settings.store, settings.data_dir), campuses, self._presence)

    def close(self) -> None:
        super().close()
        self.store.close()
        self._presence.close()
        self._registry.close()
