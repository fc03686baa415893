"""The billing file's tariffs are checked on load: each mistake is refused with what to fix, and a hostile file
(random structures, huge numbers, NaN, negative prices, 10,000 bands) is only ever a ``ConfigError``, quickly.

The bounds, in CPU time of the test's own thread with garbage collection held off (``tests.support.cost``: other
jobs, other threads and a collection over the whole session's heap do not count): the billing checks
(everything after YAML has been read: pydantic, the tariffs' rules, the payers) take under 0.5 s for a document of
up to 256 KiB, or of 10,000 bands (measured: 0.05-0.2 s); a generated hostile document (up to a few tens
of KiB) parses or is refused in under 0.5 s in all. Reading the YAML comes first and is PyYAML's own speed (libyaml:
about 0.5 MB/s), so a whole 256 KiB file is bounded at 5 s (measured: about 0.6 s)."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from billing.config import BillingFile, load_billing, parse_billing
from billing.tariffs import Tariff, quarter_hours
from campus.errors import ConfigError
from tests.billing.test_pricing_properties import tariff_docs
from tests.support.cost import cpu_clock

BOUND_S = 0.5          # the billing checks of a document up to 256 KiB; a small hostile document in all
WHOLE_S = 5.0          # a whole 256 KiB document, YAML included
MAX_BYTES = 256 * 1024
SAMPLE = Path(__file__).parents[2] / "billing" / "sample_billing.yaml"

TOU = {"peak": {"price": 1.0, "hours": ["08:00-11:00", "18:00-22:00"]},
       "flat": {"price": 0.6, "hours": ["07:00-08:00", "11:00-18:00", "22:00-23:00"]},
       "valley": {"price": 0.3, "hours": ["23:00-07:00"]}}


def refused(*versions: dict[str, Any], kind: str = "electricity", sites: bool = False) -> str:
    """The ConfigError message for a tariff with these versions (in the one-site form, or under sites:)."""
    site = {"tariffs": [{"id": "tou", "name": "分时", "kind": kind, "versions": list(versions)}]}
    doc = {"sites": {"s": site}} if sites else site
    with pytest.raises(ConfigError) as err:
        parse_billing(json.dumps(doc))
    return str(err.value)


def v(**fields: Any) -> dict[str, Any]:
    return {"from": "2026-01-01", **fields}


def bands(**changes: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(TOU))
    for name, hours in changes.items():
        out[name]["hours"] = hours
    return out


@pytest.mark.parametrize("sites", [False, True])
def test_bands_that_overlap(sites: bool) -> None:
    msg = refused(v(bands=bands(flat=["07:00-08:00", "10:00-18:00", "22:00-23:00"])), sites=sites)
    assert "bands peak and flat overlap at 10:00" in msg
    assert "each quarter hour of the day belongs to one band" in msg
    assert "tariff tou" in msg
    assert "version from 2026-01-01" in msg


def test_bands_that_leave_a_gap() -> None:
    msg = refused(v(bands=bands(flat=["07:00-08:00", "11:00-17:00", "22:00-23:00"])))
    assert "no band covers 17:00 (60 minutes of the day in all)" in msg
    assert "must cover 00:00-24:00 exactly once" in msg


@pytest.mark.parametrize("hours", ["08:10-11:00", "08:00-11:20", "8:00-11:07"])
def test_hours_not_on_the_quarter_hour(hours: str) -> None:
    msg = refused(v(bands=bands(peak=[hours, "18:00-22:00"])))
    assert "band peak" in msg
    assert "on the quarter hour (HH:00, :15, :30, :45)" in msg


@pytest.mark.parametrize("hours", ["8h-11h", "08:00", "08:00-11:00-12:00", "٠٨:00-11:00", "08:0-11:00", " - "])
def test_hours_that_are_not_a_range(hours: str) -> None:
    msg = refused(v(bands=bands(peak=[hours, "18:00-22:00"])))
    assert "write HH:MM" in msg


def test_24_00_only_ends_a_range() -> None:
    msg = refused(v(bands={"all": {"price": 1, "hours": ["24:00-08:00", "08:00-24:00"]}}))
    assert "'24:00' only ends a range" in msg
    assert "write 00:00 for midnight" in msg
    assert quarter_hours(["00:00-24:00"]) == list(range(96))
    assert quarter_hours(["22:00-00:00"]) == quarter_hours(["22:00-24:00"]) == list(range(88, 96))


def test_an_empty_range() -> None:
    msg = refused(v(bands={"all": {"price": 1, "hours": ["08:00-08:00", "00:00-24:00"]}}))
    assert "'08:00-08:00' is empty" in msg
    assert "end must differ from its start" in msg


def test_versions_out_of_order() -> None:
    msg = refused(v(price=1), {"from": "2025-06-01", "price": 2})
    assert "versions must be in date order" in msg
    assert "2025-06-01 comes after 2026-01-01" in msg
    assert "versions must be in date order" in refused(v(price=1), v(price=2))   # the same date twice


def test_an_unknown_kind() -> None:
    msg = refused(v(price=1), kind="steam")
    assert "kind" in msg
    assert "'electricity', 'water' or 'gas'" in msg


@pytest.mark.parametrize(("fields", "given"), [({"price": 1, "bands": TOU}, "price and bands"),
                                               ({"price": 1, "tiers": {"steps": [{"up_to": 1, "price": 1},
                                                                                 {"price": 2}]}}, "price and tiers"),
                                               ({}, "none")])
def test_one_price_of_use(fields: dict[str, Any], given: str) -> None:
    msg = refused(v(**fields))
    assert "give exactly one of price, bands (time of use) or tiers" in msg
    assert f"not {given}" in msg


def test_tiers_not_rising() -> None:
    msg = refused(v(tiers={"steps": [{"up_to": 200, "price": 0.5}, {"up_to": 200, "price": 0.6}, {"price": 0.9}]}))
    assert "thresholds must rise from step to step" in msg
    msg = refused(v(tiers={"steps": [{"up_to": 200, "price": 0.5}, {"up_to": 400, "price": 0.6}]}))
    assert "the last has none" in msg


def test_bands_on_a_water_tariff() -> None:
    msg = refused(v(bands=TOU), kind="water")
    assert "time-of-use bands and demand or capacity charges are for electricity" in msg
    assert "not water" in msg
    assert "are for electricity" in refused(v(price=1, demand={"per_kw": 40}), kind="gas")


def test_a_sharp_window_outside_the_peak() -> None:
    msg = refused(v(bands=TOU, sharp={"price": 1.3, "hours": ["17:00-20:00"]}))
    assert "the sharp window lies inside the peak hours, but 17:00 is not a peak hour in the bands" in msg
    assert "move the window inside the peak" in msg


def test_a_sharp_window_outside_a_seasons_peak() -> None:
    summer = bands(peak=["08:00-11:00", "20:00-22:00"], flat=["07:00-08:00", "11:00-20:00", "22:00-23:00"])
    season = {"months": [7, 8], "bands": summer}
    msg = refused(v(bands=TOU, seasons=[season], sharp={"price": 1.3, "hours": ["19:00-21:00"], "months": [7]}))
    assert "19:00 is not a peak hour in season [7, 8]" in msg
    # in other months the base bands' peak holds it: accepted
    parse_billing(json.dumps({"tariffs": [{"id": "t", "name": "n", "kind": "electricity", "versions": [
        v(bands=TOU, seasons=[season], sharp={"price": 1.3, "hours": ["19:00-21:00"], "months": [1, 12]})]}]}))


def test_a_sharp_window_needs_a_peak() -> None:
    offday = {"flat": {"price": 0.6, "hours": ["07:00-23:00"]}, "valley": {"price": 0.3, "hours": ["23:00-07:00"]}}
    msg = refused(v(bands=TOU, offday_bands=offday, sharp={"price": 1.3, "hours": ["19:00-21:00"]}))
    assert "offday_bands has no band named peak" in msg
    assert "name the peak band peak" in msg
    parse_billing(json.dumps({"tariffs": [{"id": "t", "name": "n", "kind": "electricity", "versions": [
        v(bands=TOU, offday_bands=offday, sharp={"price": 1.3, "hours": ["19:00-21:00"], "days": "workday"})]}]}))


def test_a_window_named_like_a_band() -> None:
    msg = refused(v(bands=TOU, windows=[{"name": "valley", "price": 0.2, "hours": ["10:00-14:00"]}]))
    assert "the window's name 'valley' is also a band's: rename the window" in msg


def test_two_windows_of_one_name() -> None:
    msg = refused(v(bands=TOU, sharp={"price": 1.3, "hours": ["19:00-21:00"]},
                    windows=[{"price": 0.2, "hours": ["10:00-14:00"], "days": "holiday"}]))
    assert "two windows are named 'sharp'" in msg
    assert "give each window its own name" in msg


def test_other_mistakes_say_what_to_fix() -> None:
    assert "month 7 is in two seasons" in refused(v(bands=TOU, seasons=[{"months": [6, 7], "bands": TOU},
                                                                         {"months": [7, 8], "bands": TOU}]))
    sharp = {"price": 1, "hours": ["08:00-09:00"]}
    assert "refine time-of-use bands: give bands too" in refused(v(price=1, sharp=sharp))
    assert "a demand charge or a capacity charge, not both" in refused(
        v(price=1, demand={"per_kw": 40}, capacity={"per_kva": 30, "kva": 800}))
    assert "greater than or equal to 0" in refused(v(price=-0.5))
    assert "finite number" in refused(v(price="NaN"))
    with pytest.raises(ConfigError, match="tariff t is given twice"):
        parse_billing(json.dumps({"tariffs": [{"id": "t", "name": "n", "kind": "water",
                                               "versions": [v(price=1)]}] * 2}))
    with pytest.raises(ConfigError, match=r"payer p names tariff nope, which is not in tariffs: \(known: t\)"):
        parse_billing(json.dumps({"tariffs": [{"id": "t", "name": "n", "kind": "water", "versions": [v(price=1)]}],
                                  "payers": [{"id": "p", "name": "P", "tariffs": {"water": "nope"}}]}))


def test_the_sample_file_and_its_tariffs_load() -> None:
    files = load_billing(SAMPLE)
    tariffs = files[None].tariff_map()
    assert {t.kind.value for t in tariffs.values()} == {"electricity", "water", "gas"}
    assert files[None].payers


# -- hostile documents ------------------------------------------------------------------------------------------

HOSTILE: list[Any] = [None, True, -1, 0, -0.5, "-0.5", 1e308, -1e308, math.nan, math.inf, -math.inf, "NaN", ".nan",
                      "Infinity", 10**40, "1e999999", "9" * 5000, "", "x" * 2000, [], {}, [[[[[]]]]], "24:00-08:00",
                      "08:07-09:00", "25:00-01:00", "00:00-00:00", "٠٨:00-09:00", "2026-13-01", "0001-01-01",
                      "9999-12-31", "steam", "peak", "sharp", {"price": 1, "hours": ["00:00-24:00"]}]
leaves = st.sampled_from(HOSTILE) | st.text(max_size=30) | st.integers() | st.floats() | st.decimals(
    allow_nan=True, allow_infinity=True).map(str)
structures = st.recursive(leaves, lambda inner: st.lists(inner, max_size=6)
                          | st.dictionaries(st.sampled_from(["tariffs", "payers", "versions", "bands", "hours",
                                                             "price", "from", "id", "name", "kind", "tiers", "steps",
                                                             "up_to", "sites", "s", "seasons", "months", "sharp",
                                                             "windows", "incomer", "shared"]) | st.text(max_size=8),
                                            inner, max_size=6), max_leaves=40)


def plain(x: Any) -> Any:
    """Decimals as strings and dates as ISO text, for dumping."""
    if isinstance(x, dict):
        return {k: plain(y) for k, y in x.items()}
    if isinstance(x, list):
        return [plain(y) for y in x]
    if isinstance(x, Decimal):
        return str(x)
    if isinstance(x, dt.date):
        return x.isoformat()
    return x


def mutate(x: Any, data: st.DataObject, depth: int = 0) -> Any:
    """``x`` with random parts replaced by hostile values, dropped, or repeated."""
    if data.draw(st.integers(0, 9)) == 0:
        return data.draw(structures)
    if isinstance(x, dict):
        out = {}
        for k, y in x.items():
            if data.draw(st.integers(0, 12)) == 0:
                continue
            out[k] = mutate(y, data, depth + 1)
        return out
    if isinstance(x, list):
        out_l = [mutate(y, data, depth + 1) for y in x]
        if out_l and data.draw(st.integers(0, 8)) == 0:
            out_l += out_l[:1] * data.draw(st.integers(1, 3))
        return out_l
    return x


def dump(doc: Any, as_json: bool) -> str:
    if as_json:
        return json.dumps(doc, ensure_ascii=False, default=str)   # NaN and Infinity as JSON's extension
    return yaml.safe_dump(doc, allow_unicode=True, default_flow_style=None)


def parses_or_refuses(text: str) -> float:
    """Parse ``text``: a result or a ConfigError, nothing else; returns the seconds taken."""
    with cpu_clock() as spent:
        try:
            parse_billing(text)
        except ConfigError:
            pass
        return spent()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(structures, st.booleans())
def test_random_structures_are_only_ever_a_config_error(doc: Any, as_json: bool) -> None:
    assert parses_or_refuses(dump(plain(doc), as_json)) < BOUND_S


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data(), st.booleans())
def test_mutated_tariff_files_are_only_ever_a_config_error(data: st.DataObject, as_json: bool) -> None:
    first = dt.date(2026, 1, 1)
    doc = {"tariffs": [plain(data.draw(tariff_docs(first, first + dt.timedelta(days=60))))],
           "payers": [{"id": "p", "name": "P", "meters": ["m1"], "tariffs": {"electricity": "t"}}],
           "incomer": {"electricity": {"meter": "inc", "tariff": "t"}}}
    got = parse_billing(dump(doc, as_json))   # unchanged, it is valid
    assert list(got[None].tariff_map()) == ["t"]
    hostile = mutate(doc, data)
    if data.draw(st.booleans()):
        hostile = {"sites": {"s": hostile}}
    assert parses_or_refuses(dump(hostile, as_json)) < BOUND_S


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=400))
def test_any_text_is_only_ever_a_config_error(text: str) -> None:
    assert parses_or_refuses(text) < BOUND_S


def checks_take(data: Any) -> float:
    """Seconds the billing checks take on ``data`` (a document as YAML has read it), refused or not."""
    with cpu_clock() as spent:
        try:
            BillingFile.model_validate(data).for_sites()
        except ValidationError:
            pass
        return spent()


def _tariff(*versions: Any) -> dict[str, Any]:
    return {"tariffs": [{"id": "t", "name": "n", "kind": "electricity", "versions": list(versions)}]}


INLINE_BOMB = "[&a [x,x,x,x,x,x,x,x,x], " + ", ".join(f"&{c} [{', '.join([f'*{p}'] * 9)}]"
                                                    for p, c in zip("abcdefg", "bcdefgh", strict=True)) + "]"
HUGE: list[tuple[str, Any, str]] = [
    ("10,000 bands", _tariff(v(bands={f"b{i}": {"price": 1, "hours": ["08:00-09:00"]} for i in range(10_000)})),
     "at most 8 items"),
    ("10,000 hours", _tariff(v(bands={"all": {"price": 1, "hours": ["00:00-24:00"] * 10_000}})), "at most 24 items"),
    ("a 10,000-character hour", _tariff(v(bands={"all": {"price": 1, "hours": ["0" * 10_000]}})),
     "at most 32 characters"),
    ("1,000 versions", _tariff(*({"from": f"{2026 + i // 12}-{i % 12 + 1:02d}-01", "price": 1} for i in range(1000))),
     "at most 200 items"),
    ("4,000 payers without a tariff", {"payers": [{"id": f"p{i}", "name": "n", "tariffs": {"water": "t"}}
                                                  for i in range(4000)]}, "names tariff t, which is not in tariffs"),
    ("a price of 1e999999", _tariff(v(price="1e999999")), "no more than 12 digits"),
    ("a negative price", _tariff(v(price=-1)), "greater than or equal to 0"),
    ("a 5,000-digit price", "tariffs: [{id: t, name: n, kind: water, versions: [{from: 2026-01-01, price: "
     + "9" * 5000 + "}]}]", "not valid YAML"),
    ("an alias bomb", "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefg", "bcdefgh", strict=True))
     + "tariffs: [{id: t, name: n, kind: water, versions: *h}]\n", "Extra inputs are not permitted"),
    ("an alias bomb under a tariff", "sites: {s: {tariffs: [{id: t, name: n, kind: water, versions: [{from: "
     "2026-01-01, price: 1}], x: " + INLINE_BOMB + "}]}}\n", "Extra inputs are not permitted"),
    ("an alias bomb as a payer's meters", "payers: [{id: p, name: n, tariffs: {water: t}, meters: " + INLINE_BOMB
     + "}]\n", "payers.0.meters"),
    ("nesting 100,000 deep", "tariffs: " + "[" * 100_000 + "]" * 100_000, "not valid YAML"),
]


@pytest.mark.parametrize(("what", "doc", "words"), HUGE, ids=[h[0] for h in HUGE])
def test_huge_documents_are_refused_quickly(what: str, doc: Any, words: str) -> None:
    text = doc if isinstance(doc, str) else json.dumps(doc)
    with cpu_clock() as spent, pytest.raises(ConfigError) as err:
        parse_billing(text)
    assert spent() < WHOLE_S
    assert words in str(err.value)
    if "not valid YAML" not in words:
        data = doc if not isinstance(doc, str) else yaml.load(doc, Loader=yaml.CSafeLoader)  # noqa: S506
        assert checks_take(data) < BOUND_S


def test_a_valid_256_kib_file_parses_in_time() -> None:
    tariffs = [{"id": f"t{i}", "name": f"分时 {i}", "kind": "electricity", "versions": [
        v(bands=TOU, sharp={"price": 1.3, "hours": ["19:00-21:00"], "months": [7, 8]}),
        {"from": "2026-07-01", "bands": TOU, "seasons": [{"months": [7, 8], "bands": TOU}]}]} for i in range(200)]
    payers = [{"id": f"room-{i}", "name": f"宿舍 {i}", "type": "dorm_room", "meters": [f"m{i}"],
               "tariffs": {"electricity": f"t{i % 200}"}, "allowance": {"electricity": 30}} for i in range(450)]
    doc = {"tariffs": tariffs, "payers": payers}
    text = json.dumps(doc, ensure_ascii=False)
    assert MAX_BYTES * 0.9 < len(text.encode()) < MAX_BYTES * 1.1
    with cpu_clock() as spent:
        got = parse_billing(text)
        assert spent() < WHOLE_S
    assert checks_take(doc) < BOUND_S
    assert len(got[None].tariff_map()) == 200
    assert isinstance(got[None].tariff_map()["t0"], Tariff)


@pytest.mark.parametrize("figure", [".inf", ".nan", "-1"])
def test_a_share_or_an_area_is_a_finite_figure(figure: str) -> None:
    base = ("tariffs: [{id: t, name: n, kind: electricity, versions: [{from: 2026-01-01, price: 1}]}]\n"
            "payers: [{id: a, name: A, tariffs: {electricity: t}, floor_area_m2: AREA},"
            " {id: b, name: B, tariffs: {electricity: t}}]\n"
            "shared: [{meter: m, by: ratio, payers: {a: WEIGHT, b: 1}}]\n")
    for text in (base.replace("AREA", figure).replace("WEIGHT", "1"), base.replace("AREA", "10").replace("WEIGHT",
                                                                                                        figure)):
        with pytest.raises(ConfigError, match="finite number|greater than or equal to 0"):
            parse_billing(text)
    parse_billing(base.replace("AREA", "10").replace("WEIGHT", "3"))
