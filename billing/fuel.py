"""The canteens' fuel, entered by hand: deliveries of bottled LPG, diesel, coal and other fuels, and meals served.
In ``billing.db`` (``DataDir.billing``), store ``fuel`` (its own numbered migrations).

Rules, written down plainly:

1. Rows are only added, never edited. A correction is a new entry that names the one it replaces
   (``replaces``); the old one is kept and shown as replaced (by the newer one). An entry is replaced at most
   once: a correction of a correction names the newest.
2. A delivery is costed in the month of its date (the day it was delivered), whole: fuel bought in October and
   burnt in November is October's cost. Its amount is quantity × unit price, rounded half up to the fen.
3. Quantities are counted in kg (LPG and coal; bottles × kg per bottle, tonnes × 1000), or as entered for L and
   m³; diesel entered in L and in kg stays two figures (no density is assumed).
4. Meals are entered for a day (``2026-10-08``) or for a month (``2026-10``) of one canteen. The newest entry for
   the same day (or month) replaces the one before. Day figures win: a month with any day figures counts their
   sum, and a month figure for a month that already has day figures is refused (it would never count); day
   figures entered after a month figure take its place (the month figure is then shown as not counted).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from campus.db import connect, write_transaction
from campus.errors import AlreadyExists, Invalid, NotFound
from campus.migrations import Migration, migrate

FEN = Decimal("0.01")


class Fuel(StrEnum):
    LPG = "lpg"
    DIESEL = "diesel"
    COAL = "coal"
    OTHER = "other"


class Unit(StrEnum):
    KG = "kg"
    T = "t"
    L = "L"
    BOTTLE = "bottle"
    M3 = "m3"


FUEL_NAMES = {Fuel.LPG: ("液化石油气", "LPG"), Fuel.DIESEL: ("柴油", "diesel"), Fuel.COAL: ("煤", "coal"),
              Fuel.OTHER: ("其他燃料", "other fuel")}
UNIT_NAMES = {Unit.KG: ("kg", "kg"), Unit.T: ("吨", "t"), Unit.L: ("升", "L"), Unit.BOTTLE: ("瓶", "bottles"),
              Unit.M3: ("m³", "m³")}
UNITS: dict[Fuel, tuple[Unit, ...]] = {
    Fuel.LPG: (Unit.KG, Unit.T, Unit.BOTTLE),
    Fuel.DIESEL: (Unit.L, Unit.KG, Unit.T),
    Fuel.COAL: (Unit.KG, Unit.T),
    Fuel.OTHER: (Unit.KG, Unit.T, Unit.L, Unit.M3, Unit.BOTTLE),
}

SCHEMA_1 = """
CREATE TABLE IF NOT EXISTS fuel_deliveries (id INTEGER PRIMARY KEY, site TEXT NOT NULL, payer TEXT NOT NULL,
  day TEXT NOT NULL, fuel TEXT NOT NULL, fuel_name TEXT NOT NULL, quantity TEXT NOT NULL, unit TEXT NOT NULL,
  kg_per_bottle TEXT, unit_price TEXT NOT NULL, supplier TEXT NOT NULL, photo TEXT, note TEXT NOT NULL,
  entered_by TEXT NOT NULL, entered_ms INTEGER NOT NULL, replaces INTEGER UNIQUE);
CREATE INDEX IF NOT EXISTS fuel_deliveries_day ON fuel_deliveries (site, payer, day);
CREATE INDEX IF NOT EXISTS fuel_deliveries_photo ON fuel_deliveries (photo) WHERE photo IS NOT NULL;
CREATE TABLE IF NOT EXISTS fuel_meals (id INTEGER PRIMARY KEY, site TEXT NOT NULL, payer TEXT NOT NULL,
  period TEXT NOT NULL, meals INTEGER NOT NULL, note TEXT NOT NULL, entered_by TEXT NOT NULL,
  entered_ms INTEGER NOT NULL, replaces INTEGER UNIQUE);
CREATE INDEX IF NOT EXISTS fuel_meals_period ON fuel_meals (site, payer, period);
"""
MIGRATIONS = [Migration.sql(1, "the canteens' fuel: deliveries entered by hand and meals served, corrections as "
                               "new rows naming the one they replace", SCHEMA_1)]


def money(x: Decimal) -> Decimal:
    return x.quantize(FEN, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    site: str
    payer: str
    day: dt.date
    fuel: Fuel
    fuel_name: str             # the fuel as people read it (其他: what was given)
    quantity: Decimal
    unit: Unit
    kg_per_bottle: Decimal | None
    unit_price: Decimal        # 元 per ``unit``
    supplier: str
    photo: str | None          # the receipt's SHA-256 (an upload of the site)
    note: str
    entered_by: str
    entered_ms: int
    replaces: int | None
    replaced_by: int | None = None

    @property
    def month(self) -> str:
        return self.day.strftime("%Y-%m")

    @property
    def amount(self) -> Decimal:
        """元, to the fen (rule 2)."""
        return money(self.quantity * self.unit_price)

    @property
    def counted(self) -> tuple[str, Decimal]:
        """(unit of account, quantity in it) (rule 3)."""
        if self.unit is Unit.T:
            return "kg", self.quantity * 1000
        if self.unit is Unit.BOTTLE:
            assert self.kg_per_bottle is not None  # noqa: S101 - checked when entered
            return "kg", self.quantity * self.kg_per_bottle
        if self.unit is Unit.M3:
            return "m³", self.quantity
        return self.unit.value, self.quantity


@dataclass(frozen=True, slots=True)
class Meals:
    id: int
    site: str
    payer: str
    period: str                # YYYY-MM-DD (a day) or YYYY-MM (a month)
    meals: int
    note: str
    entered_by: str
    entered_ms: int
    replaces: int | None
    replaced_by: int | None = None

    @property
    def month(self) -> str:
        return self.period[:7]

    @property
    def is_day(self) -> bool:
        return len(self.period) == 10


def check_delivery(fuel: Fuel, unit: Unit, fuel_name: str | None, kg_per_bottle: Decimal | None) -> str:
    """The fuel's name as kept; Invalid (saying what to fix) for a unit the fuel is not sold in, a bottle without
    its kg, or another fuel without its name."""
    if unit not in UNITS[fuel]:
        raise Invalid(f"{FUEL_NAMES[fuel][0]} ({fuel.value}) is entered in {', '.join(u.value for u in UNITS[fuel])}, "
                      f"not {unit.value}")
    if unit is Unit.BOTTLE and kg_per_bottle is None:
        raise Invalid("unit bottle (瓶): give kg_per_bottle, the filling of one bottle (e.g. 14.5 for a 15 kg "
                      "bottle filled to 14.5 kg, 50 for a 50 kg cylinder)")
    if unit is not Unit.BOTTLE and kg_per_bottle is not None:
        raise Invalid(f"kg_per_bottle is for unit bottle (瓶); this delivery is in {unit.value}: leave it out")
    if fuel is Fuel.OTHER:
        if not fuel_name or not fuel_name.strip():
            raise Invalid("fuel other: give fuel_name, what it is (e.g. 醇基燃料, 木炭)")
        return fuel_name.strip()
    if fuel_name and fuel_name.strip() and fuel_name.strip() != FUEL_NAMES[fuel][0]:
        raise Invalid(f"fuel_name is for fuel other; {fuel.value} is {FUEL_NAMES[fuel][0]}: leave it out")
    return FUEL_NAMES[fuel][0]


def _dec(x: str | None) -> Decimal | None:
    return None if x is None else Decimal(x)


def _delivery(r: tuple[Any, ...], replaced_by: int | None) -> Delivery:
    return Delivery(r[0], r[1], r[2], dt.date.fromisoformat(r[3]), Fuel(r[4]), r[5], Decimal(r[6]), Unit(r[7]),
                    _dec(r[8]), Decimal(r[9]), r[10], r[11], r[12], r[13], r[14], r[15], replaced_by)


def _meals(r: tuple[Any, ...], replaced_by: int | None) -> Meals:
    return Meals(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], replaced_by)


def month_like(month: str) -> str:
    """``month`` + '%' for LIKE, after checking it is YYYY-MM (no wildcard gets in)."""
    dt.date.fromisoformat(month + "-01")
    return month + "%"


class FuelStore:
    """Deliveries and meals of every site's canteens. Thread-safe; one connection."""

    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._lock = threading.RLock()
        try:
            migrate(self._conn, "fuel", MIGRATIONS)
        except BaseException:
            self._conn.close()
            raise

    @contextmanager
    def _tx(self) -> Iterator[None]:
        with self._lock, write_transaction(self._conn):
            yield

    def _all(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    # -- deliveries --------------------------------------------------------------------------
    def add_delivery(self, *, site: str, payer: str, day: dt.date, fuel: Fuel, fuel_name: str | None,
                     quantity: Decimal, unit: Unit, kg_per_bottle: Decimal | None, unit_price: Decimal,
                     supplier: str, photo: str | None, note: str, by: str, now_ms: int,
                     replaces: int | None = None) -> Delivery:
        name = check_delivery(fuel, unit, fuel_name, kg_per_bottle)
        with self._tx():
            if replaces is not None:
                self._replaceable("fuel_deliveries", "delivery", site, payer, replaces)
            cur = self._conn.execute(
                "INSERT INTO fuel_deliveries (site, payer, day, fuel, fuel_name, quantity, unit, kg_per_bottle, "
                "unit_price, supplier, photo, note, entered_by, entered_ms, replaces) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (site, payer, day.isoformat(), fuel.value, name, str(quantity), unit.value,
                 None if kg_per_bottle is None else str(kg_per_bottle), str(unit_price), supplier, photo, note, by,
                 now_ms, replaces))
            new_id = int(cur.lastrowid or 0)
        return self.delivery(site, new_id)

    def _replaceable(self, table: str, what: str, site: str, payer: str, old: int) -> None:
        row = self._conn.execute(f"SELECT payer FROM {table} WHERE id = ? AND site = ?",  # noqa: S608 - our names
                                 (old, site)).fetchone()
        if row is None:
            raise NotFound(f"no {what} #{old} to replace at site {site}")
        if row[0] != payer:
            raise Invalid(f"{what} #{old} is canteen {row[0]}'s, not {payer}'s: a correction keeps the canteen")
        newer = self._conn.execute(f"SELECT id FROM {table} WHERE replaces = ?", (old,)).fetchone()  # noqa: S608
        if newer is not None:
            raise AlreadyExists(f"{what} #{old} was already replaced by #{newer[0]}: correct #{newer[0]} instead")

    def delivery(self, site: str, delivery_id: int) -> Delivery:
        got = self.deliveries(site, ids=[delivery_id], current=False)
        if not got:
            raise NotFound(f"no delivery #{delivery_id} at site {site}")
        return got[0]

    def deliveries(self, site: str, *, payers: list[str] | None = None, month: str | None = None,
                   ids: list[int] | None = None, current: bool = True) -> list[Delivery]:
        """Deliveries of ``site`` (of ``payers``, in ``month``), by date then entry; ``current``: only those not
        replaced."""
        where: list[str] = ["d.site = ?"]
        args: list[Any] = [site]
        if payers is not None:
            if not payers:
                return []
            where.append(f"d.payer IN ({', '.join('?' * len(payers))})")
            args += payers
        if month is not None:
            where.append("d.day LIKE ?")
            args.append(month_like(month))
        if ids is not None:
            where.append(f"d.id IN ({', '.join('?' * len(ids))})")
            args += ids
        if current:
            where.append("r.id IS NULL")
        rows = self._all("SELECT d.*, r.id FROM fuel_deliveries d LEFT JOIN fuel_deliveries r ON r.replaces = d.id "  # noqa: S608 - placeholders only
                         f"WHERE {' AND '.join(where)} ORDER BY d.day, d.id", tuple(args))
        return [_delivery(r[:16], r[16]) for r in rows]

    def photo_uses(self, sha: str) -> list[tuple[str, str]]:
        """(site, canteen) of every delivery, replaced or not, whose receipt photo is ``sha``."""
        return [(r[0], r[1]) for r in self._all("SELECT DISTINCT site, payer FROM fuel_deliveries WHERE photo = ?",
                                                 (sha,))]

    # -- meals -------------------------------------------------------------------------------
    def add_meals(self, *, site: str, payer: str, period: str, meals: int, note: str, by: str,
                  now_ms: int) -> Meals:
        """Meals of a day (YYYY-MM-DD) or a month (YYYY-MM); the newest for the same period replaces the one
        before (rule 4)."""
        day = len(period) == 10
        with self._tx():
            if not day and self._conn.execute(
                    "SELECT 1 FROM fuel_meals m WHERE site = ? AND payer = ? AND length(period) = 10 AND period LIKE ? "
                    "AND NOT EXISTS (SELECT 1 FROM fuel_meals r WHERE r.replaces = m.id)",
                    (site, payer, month_like(period))).fetchone():
                raise AlreadyExists(f"{payer} already has meals entered by day in {period}: day figures win, so a "
                                    "month figure would never count. Enter (or correct) the days instead")
            old = self._conn.execute(
                "SELECT id FROM fuel_meals m WHERE site = ? AND payer = ? AND period = ? AND NOT EXISTS "
                "(SELECT 1 FROM fuel_meals r WHERE r.replaces = m.id)", (site, payer, period)).fetchone()
            cur = self._conn.execute(
                "INSERT INTO fuel_meals (site, payer, period, meals, note, entered_by, entered_ms, replaces) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (site, payer, period, meals, note, by, now_ms,
                                                    old[0] if old else None))
            new_id = int(cur.lastrowid or 0)
        return self.meals(site, ids=[new_id], current=False)[0]

    def meals(self, site: str, *, payers: list[str] | None = None, month: str | None = None,
              ids: list[int] | None = None, current: bool = True) -> list[Meals]:
        where: list[str] = ["m.site = ?"]
        args: list[Any] = [site]
        if payers is not None:
            if not payers:
                return []
            where.append(f"m.payer IN ({', '.join('?' * len(payers))})")
            args += payers
        if month is not None:
            where.append("m.period LIKE ?")
            args.append(month_like(month))
        if ids is not None:
            where.append(f"m.id IN ({', '.join('?' * len(ids))})")
            args += ids
        if current:
            where.append("r.id IS NULL")
        rows = self._all("SELECT m.*, r.id FROM fuel_meals m LEFT JOIN fuel_meals r ON r.replaces = m.id "  # noqa: S608 - placeholders only
                         f"WHERE {' AND '.join(where)} ORDER BY m.period, m.id", tuple(args))
        return [_meals(r[:9], r[9]) for r in rows]

    def close(self) -> None:
        self._conn.close()


def meals_of_month(entries: list[Meals]) -> tuple[int | None, Literal["days", "month", "none"]]:
    """(the month's meals, where they come from: "days", "month" or "none") from one canteen's current entries
    of one month (rule 4: day figures win)."""
    days = [m for m in entries if m.is_day]
    if days:
        return sum(m.meals for m in days), "days"
    months = [m for m in entries if not m.is_day]
    if months:
        return months[-1].meals, "month"
    return None, "none"
