"""The billing desk: one place the API (and the CLI) asks for a site's book, a month's statements and filings.

The billing file is read when first needed and again when it changes on disk (its modification time), and
checked against each site's campus as the registry has it now; a campus change (a new meter) builds the site's
book again. Without ``[billing] file`` there are no costs: asking says so (404) instead of inventing prices.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from billing.bills import BillStore
from billing.book import Book
from billing.config import BillingSettings, SiteBilling, billing_for, load_billing
from billing.filing import StatementFilings
from billing.incentives import incentive_lines, incentives_ahead
from billing.statements import Biller, Line, Statement, Summary
from campus.db import DataDir
from campus.errors import NotFound
from campus.model import Campus
from reports.usage import Usage


class NoBilling(NotFound):
    """No billing file is configured (or it has nothing for this site)."""


class BillingDesk:
    def __init__(self, data_dir: Path, settings: BillingSettings, campuses: Callable[[], dict[str, Campus]],
                 usage: Usage, *, clock: Callable[[], float] | None = None) -> None:
        self.settings, self._campuses, self.usage = settings, campuses, usage
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC).timestamp())
        self.filings = StatementFilings(DataDir(data_dir).billing)
        self.bills = BillStore(DataDir(data_dir).billing)
        self._lock = threading.Lock()
        self._file: tuple[float, dict[str | None, SiteBilling]] | None = None
        self._books: dict[str, tuple[int, Book]] = {}

    @property
    def enabled(self) -> bool:
        return self.settings.file is not None

    def _billing(self) -> dict[str | None, SiteBilling]:
        path = self.settings.file
        if path is None:
            raise NoBilling("no billing file: set [billing] file to a YAML file of tariffs and payers (see the "
                            "README, \"What energy costs and who pays\")")
        mtime = path.stat().st_mtime if path.exists() else -1.0
        with self._lock:
            if self._file is None or self._file[0] != mtime:
                self._file = (mtime, load_billing(path))
                self._books.clear()
            return self._file[1]

    def site_billing(self, site: str) -> SiteBilling:
        files = self._billing()
        if site not in files and None not in files:
            raise NoBilling(f"the billing file has no site {site!r}")
        return billing_for(files, site)

    def book(self, site: str, campus: Campus | None = None) -> Book:
        """The site's book, checked against its whole campus (ConfigError saying what to fix)."""
        billing = self.site_billing(site)
        campus = campus or self._campuses()[site]
        with self._lock:
            got = self._books.get(site)
            if got is not None and got[0] == id(campus):
                return got[1]
        book = Book.build(campus, billing)
        with self._lock:
            self._books[site] = (id(campus), book)
        return book

    def check(self) -> None:
        """Read the billing file and build every site's book now, so a mistake is said at start (file, line,
        what to fix), not at the first statement. Nothing to do without a file."""
        if not self.enabled:
            return
        files = self._billing()
        for site, campus in self._campuses().items():
            if site in files or None in files:
                self.book(site, campus)

    def now(self, site_tz: str) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), ZoneInfo(site_tz))

    def biller(self, site: str, month: str, *, language: str = "zh-CN", refresh: bool = True) -> Biller:
        site_usage = self.usage.site(site)
        if refresh:
            site_usage.refresh(wait_s=site_usage.request_wait_s)
        campus = site_usage.whole
        book = self.book(site, campus)
        return Biller(book, site_usage.rollups, self.usage.store, month, self.now(campus.site.timezone),
                      language=language)

    def statement(self, biller: Biller, payer: str) -> Statement:
        def extra(statement: Statement) -> list[Line]:
            return incentive_lines(biller, payer, statement)

        def ahead(factor: Decimal) -> Decimal:
            return incentives_ahead(biller, payer, factor)
        return biller.statement(payer, extra=extra, ahead=ahead)

    def summary(self, biller: Biller) -> tuple[Summary, dict[str, Statement]]:
        statements = {p: self.statement(biller, p) for p in biller.book.payers}
        return biller.summary({p: s.total for p, s in statements.items()}), statements

    def close(self) -> None:
        self.filings.close()
        self.bills.close()


def total_of(lines: list[Line]) -> Decimal:
    return sum((ln.amount for ln in lines), Decimal("0.00"))
