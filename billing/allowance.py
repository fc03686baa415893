"""Free monthly allowances (定额): a payer's use this month against its allowance, and the notices it is owed.

Rules, written down plainly:

1. A payer's use of a kind in a month is what its statement bills before the allowance: the sum over its
   meters of that kind of its held days (its share of a shared meter, sub-meters billed to others taken off),
   from the roll-ups, from the month's first local day up to now (``Biller.held_days``).
2. Its share of the allowance is that use ÷ the allowance. A notice is owed the first time the share reaches
   each of ``[billing] allowance_notice`` (0.8 and 1.0) in a month: one per payer, kind, month and threshold,
   kept in billing.db (``billing.allowance_outbox``), so a check run again, or after a restart, owes nothing new.
3. When one check finds several thresholds newly reached (the room went from 70 % to 105 % between checks), the
   highest is sent and the lower ones are recorded as superseded: a room told "100 %" is not told "80 %" too.
4. Only dorm-room payers (``type: dorm_room``) with an allowance and a contact with an e-mail address or a phone
   number are told; the notice goes to the e-mail address (the roster's ``email`` channel), else the phone (the
   roster's ``sms`` channel).
5. The notice is in Chinese first, then in English, with the room's name, the share, the use and the allowance
   (use to 0.1), and the price above the allowance when the tariff has one price (else the tariff's name):
   "1号楼101室：本月用电已达定额的80%（24.0/30 kWh），超出部分按0.558元/kWh计费。"
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, Field

from billing.allowance_outbox import AllowanceOutbox, OwedNotice
from billing.config import Payer, PayerType
from billing.desk import BillingDesk
from billing.metered import MICRO, micro
from billing.statements import UNITS, Biller
from billing.tariffs import Tariff, TariffKind

KIND_WORDS = {TariffKind.ELECTRICITY: ("用电", "electricity"), TariffKind.WATER: ("用水", "water"),
              TariffKind.GAS: ("用气", "gas")}
CHANNELS = (("email", "email"), ("sms", "phone"))  # the roster channel, and the contact's field it is sent to


@dataclass(frozen=True, slots=True)
class KindUse:
    """One kind's use this month (micro-units) against the payer's allowance of it."""

    kind: TariffKind
    micro: int
    allowance: Decimal
    tariff: Tariff
    price: Decimal | None  # the price above the allowance, when the tariff has one price (no bands, no tiers)

    @property
    def used(self) -> Decimal:
        return (Decimal(self.micro) / MICRO).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    @property
    def share(self) -> float:
        return float(Decimal(self.micro) / MICRO / self.allowance)

    @property
    def unit(self) -> str:
        return UNITS[self.kind]


def month_use(biller: Biller, payer: Payer) -> list[KindUse]:
    """The payer's use of each kind it has an allowance for, in the biller's month up to its ``now``."""
    book = biller.book
    today = min(max(biller.now.date(), biller.first), biller.last)
    out = []
    for kind, allowance in payer.allowance.items():
        held = [h for h in book.holdings.get(payer.id, []) if h.device.kind.value == kind.value]
        used = sum(micro(d.total) for h in held for d in biller.held_days(h))
        tariff = book.tariff(payer, kind) if kind in payer.tariffs else None
        if tariff is None:
            continue
        version = tariff.version_on(today)
        out.append(KindUse(kind, used, allowance, tariff, None if version is None else version.price))
    return out


def _num(x: Decimal) -> str:
    return format(x.normalize(), "f")


def _pct(threshold: float) -> str:
    return f"{round(threshold * 100, 2):g}"


def notice_text(payer: Payer, use: KindUse, threshold: float) -> tuple[str, str]:
    """(title, body): Chinese first, then English."""
    zh_kind, en_kind = KIND_WORDS[use.kind]
    pct, unit = _pct(threshold), use.unit
    used = f"{use.used.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}/{_num(use.allowance)} {unit}"
    if use.price is not None:
        zh_price = f"超出部分按{_num(use.price)}元/{unit}计费"
        en_price = f"use above it is charged at {_num(use.price)} 元/{unit}"
    else:
        zh_price = f"超出部分按“{use.tariff.name}”计费"
        en_price = f"use above it is charged by the tariff “{use.tariff.name}”"
    zh = f"{payer.name}：本月{zh_kind}已达定额的{pct}%（{used}），{zh_price}。"
    en = f"{payer.name}: this month's {en_kind} use has reached {pct}% of the free allowance ({used}); {en_price}."
    title = f"{payer.name} 本月{zh_kind}已达定额{pct}% · {en_kind} allowance {pct}% used"
    return title, f"{zh}\n\n{en}\n"


def told(payer: Payer) -> tuple[str, str] | None:
    """(channel, address) the payer's notices go to; None: nobody to tell."""
    if payer.type is not PayerType.DORM_ROOM or not payer.allowance or payer.contact is None:
        return None
    for channel, field in CHANNELS:
        address = getattr(payer.contact, field)
        if address:
            return channel, address
    return None


def thresholds(shares: list[float]) -> list[float]:
    return sorted({float(s) for s in shares if s > 0})


def decide(share: float, known: set[float], shares: list[float]) -> list[tuple[float, bool]]:
    """The thresholds newly reached at ``share`` (``known``: those already owed), each with whether it is sent:
    only the highest, and only when it is above every one already owed (rule 3)."""
    new = [t for t in thresholds(shares) if share >= t and t not in known]
    top = max(new, default=0.0)
    return [(t, t == top and t > max(known, default=0.0)) for t in new]


def owed(site: str, biller: Biller, payer: Payer, shares: list[float], outbox: AllowanceOutbox,
         now_ms: int) -> list[OwedNotice]:
    """The notices the payer is newly owed this month (not yet written to the outbox)."""
    to = told(payer)
    if to is None or payer.contact is None:
        return []
    out = []
    for use in month_use(biller, payer):
        known = outbox.known(site, biller.month, payer.id, use.kind.value)
        for t, send in decide(use.share, known, shares):
            title, body = notice_text(payer, use, t)
            out.append(OwedNotice(site, biller.month, payer.id, use.kind.value, t, str(use.used), str(use.allowance),
                                  payer.contact.name, to[0], to[1], title, body,
                                  "pending" if send else "superseded", next_ms=now_ms, created_ms=now_ms))
    return out


def check_site(desk: BillingDesk, outbox: AllowanceOutbox, site: str) -> list[OwedNotice]:
    """Write the notices owed now at ``site`` (this month in the site's time zone); returns those written."""
    book = desk.book(site)
    payers = [p for p in book.billing.payers if told(p) is not None]
    if not payers:
        return []
    now = desk.now(book.campus.site.timezone)
    biller = desk.biller(site, now.strftime("%Y-%m"))
    now_ms = int(desk.clock() * 1000)
    notices = [n for p in payers for n in owed(site, biller, p, desk.settings.allowance_notice, outbox, now_ms)]
    return outbox.owe(notices) if notices else []


# -- what the API shows -----------------------------------------------------------------------------------
class NoticeShown(BaseModel):
    threshold: float = Field(description="the share of the allowance (0.8: 80 %)")
    status: Literal["pending", "sent", "failed", "superseded"] = Field(
        description="pending: not sent yet (retried); superseded: a higher threshold was reached at the same "
        "check and sent instead")
    to: str = Field(description="the contact's name")
    channel: str
    used: Decimal = Field(description="the use when the threshold was found reached")
    owed_at: dt.datetime
    sent_at: dt.datetime | None
    attempts: int
    last_error: str | None


class KindAllowance(BaseModel):
    kind: TariffKind
    unit: str
    used: Decimal = Field(description="this month so far, to 0.01")
    allowance: Decimal
    share: float = Field(description="used ÷ allowance")
    price: Decimal | None = Field(description="元 per unit above the allowance; null: the tariff has bands or tiers")
    tariff: str
    tariff_name: str
    notices: list[NoticeShown]


class AllowanceStatus(BaseModel):
    site: str
    site_name: str
    month: str
    payer: str
    payer_name: str
    payer_type: str
    timezone: str
    as_of: dt.datetime = Field(description="the use is counted up to this moment")
    kinds: list[KindAllowance]


def allowance_status(biller: Biller, payer: Payer, outbox: AllowanceOutbox) -> AllowanceStatus:
    book, tz = biller.book, biller.tz
    notices = outbox.of_payer(book.campus.site.id, biller.month, payer.id)

    def at(ms: int | None) -> dt.datetime | None:
        return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, tz)

    kinds = []
    for use in month_use(biller, payer):
        shown = [NoticeShown(threshold=n.threshold, status=n.status, to=n.recipient, channel=n.channel,
                             used=Decimal(n.used), owed_at=dt.datetime.fromtimestamp(n.created_ms / 1000, tz),
                             sent_at=at(n.sent_ms), attempts=n.attempts, last_error=n.last_error)
                 for n in notices if n.kind == use.kind.value]
        kinds.append(KindAllowance(kind=use.kind, unit=use.unit, used=use.used, allowance=use.allowance,
                                   share=round(use.share, 4), price=use.price, tariff=use.tariff.id,
                                   tariff_name=use.tariff.name, notices=shown))
    return AllowanceStatus(site=book.campus.site.id, site_name=book.campus.site.name, month=biller.month,
                           payer=payer.id, payer_name=payer.name, payer_type=payer.type.value, timezone=str(tz),
                           as_of=min(biller.now, dt.datetime.combine(biller.stop, dt.time(), tz)), kinds=kinds)
