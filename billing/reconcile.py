"""A supplier's bill against what meterwatch measured over the bill's exact days, and the alert a gap raises.

The rules, written down plainly:

1. The bill's period is whole local days (``period_from`` to ``period_to`` inclusive); it need not be a calendar
   month. Over exactly those days meterwatch counts:

   a. the **incomer** of the bill's kind (``incomer:`` in the billing file): its use per band under the incomer's
      tariff and its cost (energy, monthly fee, demand and capacity charges), as on a statement
      (``billing.statements.Biller`` over the bill's days, ``billing.metered`` and ``billing.pricing``);
   b. the **payers** of that kind: the use on their statements (their own meters, shares, and any share of the
      incomer's remainder the billing file allocates) and what they pay for that kind (incentives aside).

2. The gap is the bill less the meters: in units, in 元, and as a share of the bill's quantity (and amount).
   A positive gap: the supplier billed more than the meters counted.
3. The **incomer's** gap decides: beyond ``[billing] bill_gap_ratio`` of the bill's quantity it raises one
   ``data`` alert (``bill-gap``) per bill and its corrections, routed through the duty roster like every other
   data alert (the incomer's building and zone). :func:`gap_alert` says what it says; ``api.routers.bills``
   raises it through the alert desk (billing does not import alerts), as the records raise overdue work. A
   correcting bill, or late readings, that bring it within the ratio resolve it; so does withdrawing the bill.
   The payers' gap is shown, never alerted: the school's own use, losses and unmetered public use are in it
   whenever the billing file keeps the remainder.
4. Without a billing file, an incomer of the kind, or prices for the period, the comparison that cannot be made
   is null, and ``notes`` say why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, Field

from billing.bills import BillRow
from billing.metered import MICRO
from billing.statements import UNITS, Biller, band_name
from billing.tariffs import TariffKind
from campus.labels import Name
from campus.model import Campus, Device

RULE = "bill-gap"
CENT = Decimal("0.01")
# the bill's kind and the meter it is checked against, in people's words
WORDS: dict[TariffKind, tuple[str, str, str, str]] = {
    TariffKind.ELECTRICITY: ("电费", "electricity", "进线表", "incomer meter"),
    TariffKind.WATER: ("水费", "water", "总水表", "main water meter"),
    TariffKind.GAS: ("燃气费", "gas", "总气表", "main gas meter"),
}
_USE = {TariffKind.ELECTRICITY: "用电", TariffKind.WATER: "用水", TariffKind.GAS: "用气"}


def _c(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def _say(language: str, zh: str, en: str) -> str:
    return en if language.startswith("en") else zh


class BandGap(BaseModel):
    band: str
    band_name: str
    bill: Decimal | None = Field(description="on the bill; null: the bill does not give this band (—)")
    metered: Decimal | None = Field(description="the incomer's use in the band; null: its tariff has no such band")
    gap: Decimal | None = Field(description="bill − metered; null where either is missing")


class Comparison(BaseModel):
    against: Literal["incomer", "payers"]
    name: str = Field(description="the incomer meter's name, or 'the payers' in the language asked")
    meter: str | None = None
    payers: list[str] = Field(default_factory=list, description="the payers counted (against: payers)")
    use: Decimal = Field(description="kWh or m³ over the bill's days, to 0.01")
    amount: Decimal = Field(description="元: the incomer's cost under its tariff, or what the payers pay")
    gap_use: Decimal = Field(description="the bill's quantity − use")
    gap_amount: Decimal = Field(description="the bill's amount − amount, 元")
    gap_share: float | None = Field(description="gap_use as a share of the bill's quantity; null: the bill's "
                                    "quantity is 0")
    gap_amount_share: float | None = Field(description="gap_amount as a share of the bill's amount")
    estimated_share: float = Field(default=0.0, description="share of the use whose split between bands is an "
                                   "estimate (a meter read too rarely)")
    bands: list[BandGap] = Field(default_factory=list)


class Reconciliation(BaseModel):
    bill: int
    kind: TariffKind
    unit: str
    period_from: dt.date
    period_to: dt.date
    days: int
    quantity: Decimal = Field(description="the bill's quantity: its total, else the sum of its bands")
    amount: Decimal
    incomer: Comparison | None
    payers: Comparison | None
    threshold: float = Field(description="[billing] bill_gap_ratio")
    beyond: bool = Field(description="the incomer's gap is beyond the threshold: a data alert is raised")
    said: str = Field(description="the verdict in the language asked")
    notes: list[str] = Field(default_factory=list)


def for_period(biller: Biller, first: dt.date, stop: dt.date) -> Biller:
    """A fresh ``biller`` (nothing counted yet) turned to the local days [first, stop) instead of its month."""
    biller.first, biller.stop = first, stop
    return biller


def _share(gap: Decimal, whole: Decimal) -> float | None:
    return None if whole == 0 else round(float(gap / whole), 6)


def incomer_comparison(bill: BillRow, biller: Biller, language: str) -> Comparison | None:
    kind = TariffKind(bill.kind)
    got = biller.incomer(kind)
    if got is None:
        return None
    priced, lines, md = got
    use = _c(Decimal(priced.micro) / MICRO)
    amount = sum((ln.amount for ln in lines), Decimal("0.00"))
    metered: dict[str, int] = {}
    for ch in priced.charges:
        metered[ch.band] = metered.get(ch.band, 0) + ch.micro
    given = {b: q for b, q in bill.quantities.items() if b != "total"}
    bands = []
    for band in dict.fromkeys([*given, *metered]):
        m = _c(Decimal(metered[band]) / MICRO) if band in metered else None
        q = given.get(band)
        bands.append(BandGap(band=band, band_name=band_name(band, language), bill=q, metered=m,
                             gap=None if q is None or m is None else _c(q - m)))
    gap, gap_amount = _c(bill.quantity - use), _c(bill.amount - amount)
    return Comparison(against="incomer", name=md.device.name or md.device.id, meter=md.device.id, use=use,
                      amount=amount, gap_use=gap, gap_amount=gap_amount, gap_share=_share(gap, bill.quantity),
                      gap_amount_share=_share(gap_amount, bill.amount), estimated_share=round(md.estimated_share, 4),
                      bands=bands)


def payers_comparison(bill: BillRow, biller: Biller, language: str) -> Comparison | None:
    kind = TariffKind(bill.kind)
    payers = [p for p in biller.book.billing.payers if kind in p.tariffs]
    if not payers:
        return None
    use = amount = Decimal("0.00")
    for p in payers:
        for ln in biller.statement(p.id).lines:
            if ln.kind is not kind or ln.section == "incentive":
                continue
            amount += ln.amount
            if ln.section in ("use", "remainder"):
                use += ln.use
    gap, gap_amount = _c(bill.quantity - use), _c(bill.amount - amount)
    return Comparison(against="payers", name=_say(language, "各结算单位合计", "the payers together"),
                      payers=[p.id for p in payers], use=_c(use), amount=amount, gap_use=gap, gap_amount=gap_amount,
                      gap_share=_share(gap, bill.quantity), gap_amount_share=_share(gap_amount, bill.amount))


def reconcile(bill: BillRow, biller: Biller | None, threshold: float, language: str, *,
              notes: list[str] | None = None) -> Reconciliation:
    """``bill`` against the meters: ``biller`` must be fresh and turned to the bill's days (:func:`for_period`);
    None: there is nothing to compare with (``notes`` say why)."""
    kind = TariffKind(bill.kind)
    said_notes = list(notes or [])
    incomer = payers = None
    if biller is not None:
        incomer = incomer_comparison(bill, biller, language)
        if incomer is None:
            said_notes.append(_say(language, f"计费文件没有{WORDS[kind][2]} (incomer: {kind.value})，无法与账单核对",
                                   f"the billing file names no {kind.value} incomer: nothing to check the bill "
                                   "against"))
        payers = payers_comparison(bill, biller, language)
    share = incomer.gap_share if incomer is not None else None
    beyond = share is not None and abs(share) > threshold
    zh, en, meter_zh, meter_en = WORDS[kind]
    if incomer is None:
        said = _say(language, "无法核对", "not checked")
    elif share is None:
        said = _say(language, "账单用量为 0", "the bill's quantity is 0")
    elif beyond:
        said = _say(language, f"{zh}账单与{meter_zh}差 {share * 100:.1f}%：表计可能有误或存在未计量{_USE[kind]}",
                    f"the {en} bill differs from the {meter_en} by {share * 100:.1f}%: a meter may be wrong, or "
                    "some use is unmetered")
    else:
        said = _say(language, f"{zh}账单与{meter_zh}相符 (差 {share * 100:.1f}%，阈值 {threshold * 100:g}%)",
                    f"the {en} bill agrees with the {meter_en} (gap {share * 100:.1f}%, threshold "
                    f"{threshold * 100:g}%)")
    return Reconciliation(bill=bill.id, kind=kind, unit=UNITS[kind], period_from=bill.period_from,
                          period_to=bill.period_to, days=(bill.stop - bill.period_from).days, quantity=bill.quantity,
                          amount=bill.amount, incomer=incomer, payers=payers, threshold=threshold, beyond=beyond,
                          said=said, notes=said_notes)


# -- the alert (raised through the alert desk by the caller: billing does not import alerts) ------------------
@dataclass(frozen=True, slots=True)
class GapAlert:
    """What a ``bill-gap`` alert says and where it is routed: the incomer's building and zone."""

    subject: str
    detail: str
    texts: dict[str, Name]
    zone: str | None
    building: str | None
    device: str | None
    department: str | None
    value: float
    limit: str
    unit: str = "%"


def subject(bill: BillRow) -> str:
    """One alert for a bill and its corrections."""
    return f"bill:{bill.kind}:{bill.chain}"


def gap_alert(bill: BillRow, rec: Reconciliation, campus: Campus, language: str) -> GapAlert:
    """The ``data`` alert of a bill whose incomer gap is beyond the threshold."""
    inc = rec.incomer
    assert inc is not None  # noqa: S101
    share = inc.gap_share
    assert share is not None  # noqa: S101
    kind = TariffKind(bill.kind)
    zh, en, meter_zh, meter_en = WORDS[kind]
    pct = f"{share * 100:.1f}%"
    unit = rec.unit
    device: Device | None = next((d for d in campus.devices if d.id == inc.meter), None)
    building = campus.building(device.building) if device is not None else None
    period = f"{bill.period_from} – {bill.period_to}"
    detail = Name(
        zh=f"{zh}账单与{meter_zh}差 {pct}：表计可能有误或存在未计量{_USE[kind]}。"
           f"{bill.supplier} {bill.period_from} 至 {bill.period_to} 账单 {bill.quantity} {unit}、{bill.amount} 元；"
           f"{inc.name} {inc.use} {unit}、{inc.amount} 元；差 {inc.gap_use} {unit}、{inc.gap_amount} 元",
        en=f"The {en} bill differs from the {meter_en} by {pct}: a meter may be wrong, or some use is unmetered. "
           f"{bill.supplier}, {period}: billed {bill.quantity} {unit}, {bill.amount} yuan; {inc.name} "
           f"{inc.use} {unit}, {inc.amount} yuan; gap {inc.gap_use} {unit}, {inc.gap_amount} yuan")
    limit = f"{rec.threshold * 100:g}%"
    texts = {"subject": Name(zh=f"{zh}账单核对 · {bill.period_from} 至 {bill.period_to}",
                             en=f"{en.capitalize()} bill check · {period}"),
             "detail": detail, "unit": Name(zh="%", en="%"),
             "limit": Name(zh=f"账单的 ±{limit}", en=f"±{limit} of the bill"),
             "reading": Name(zh=f"差 {pct} · {inc.gap_use} {unit} · {inc.gap_amount} 元",
                             en=f"gap {pct} · {inc.gap_use} {unit} · {inc.gap_amount} yuan")}
    return GapAlert(subject=subject(bill), detail=detail.text(language), texts=texts,
                    zone=campus.zone_of(device.building) if device else None,
                    building=device.building if device else None, device=device.id if device else None,
                    department=building.department.value if building else None,
                    value=round(share * 100, 2), limit=limit)


def settled_because(bill: BillRow, rec: Reconciliation | None) -> str:
    """Why a bill's gap alert is resolved: it was withdrawn (``rec`` None), a correction or the data agree."""
    if rec is None:
        return "the bill was withdrawn"
    if bill.replaces is not None:
        return f"a correcting bill (#{bill.id}) agrees with the meters"
    return "the meters' data now agree with the bill"
