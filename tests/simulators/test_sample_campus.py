"""The sample campus as the standards see it: direct-drinking fountains with RO/carbon-filtered water, building
codes, and teaching building A's item sub-meters with a plausible share of its main meter."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from campus.contract import Kind
from campus.items import check_building_code
from campus.model import load_campus
from simulators.model import Simulation, load_campus_doc
from tests.support.paths import SAMPLE

TZ = ZoneInfo("Asia/Shanghai")
CAMPUS = load_campus(SAMPLE)
DEVICES = {d.id: d for d in CAMPUS.devices}
FOUNTAINS = ("d1-fountain", "ta-fountain", "tb-fountain", "of-fountain")
ITEMS = {"ta-light": "01A00", "ta-ac": "01B00", "ta-power": "01C00"}


def run(start: datetime, end: datetime, devices: set[str]) -> dict[tuple[str, int], dict[str, float]]:
    """What the simulator publishes for ``devices`` of the sample (each device's values depend on itself alone)."""
    doc = load_campus_doc(SAMPLE)
    doc["devices"] = [d for d in doc["devices"] if d["id"] in devices]
    return Simulation(doc, start=start, end=end, seed=5).expected()


def test_purified_fountains_read_like_ro_and_carbon_filtered_water() -> None:
    """A school week (Mon 9 – Mon 16 March 2026): chlorine 0.00–0.02 mg/L, TDS 5–40 mg/L, conductivity ~1.55 µS/cm
    per mg/L, pH 6.5–7.5, turbidity well under CJ 94's 0.5 NTU; taps keep their chlorine residual."""
    got = run(datetime(2026, 3, 9, tzinfo=TZ), datetime(2026, 3, 16, tzinfo=TZ), {*FOUNTAINS, "c1-tap", "tank-2nd"})
    for device in FOUNTAINS:
        assert DEVICES[device].role == "purified_drinking"
        values = [v for (d, _), v in got.items() if d == device]
        assert len(values) == 7 * 144 - 1  # every 10 minutes for 7 days, the first one interval after the start
        for v in values:
            assert 0.0 <= v["free_chlorine_mgl"] <= 0.02, (device, v)
            assert 5 <= v["tds_mgl"] <= 40, (device, v)
            assert abs(v["conductivity_uscm"] - 1.55 * v["tds_mgl"]) <= 0.1, (device, v)
            assert 6.5 <= v["ph"] <= 7.5, (device, v)
            assert v["turbidity_ntu"] < 0.2, (device, v)
    for tap in ("c1-tap", "tank-2nd"):  # GB 5749 water: the residual is kept at the tap (≥ 0.05 mg/L)
        assert min(v["free_chlorine_mgl"] for (d, _), v in got.items() if d == tap) >= 0.12


def test_every_building_has_its_code() -> None:
    """330106 (杭州市西湖区), D (文化教育建筑), numbered 001… in the order of the campus file."""
    codes = [b.code for b in CAMPUS.buildings]
    assert codes == [f"330106D{n:03d}" for n in range(1, len(CAMPUS.buildings) + 1)]
    assert all(check_building_code(c) == c for c in codes if c is not None)


def test_teaching_building_a_has_item_sub_meters_the_rest_is_unitemised() -> None:
    """Tuesday 10 March 2026, a school day. The sub-meters carry 45 % (lighting and sockets), 30 % (air
    conditioning) and 10 % (power) of the building's load, so 100 − 45 − 30 − 10 = 15 % is 未分项, give or take
    the meters' own 3 % noise."""
    subs = {d.id: d for d in CAMPUS.devices if d.parent == "ta-elec"}
    assert {k: (d.item, d.kind, d.gateway) for k, d in subs.items()} == {
        k: (item, Kind.ELECTRICITY, "gw-teach-a") for k, item in ITEMS.items()}
    assert CAMPUS.item_of(DEVICES["c1-elec"]) == "01D20"  # a canteen's electricity by default
    got = run(datetime(2026, 3, 10, tzinfo=TZ), datetime(2026, 3, 11, tzinfo=TZ), {"ta-elec", *ITEMS})

    def used(device: str, multiplier: float = 1.0) -> float:
        regs = sorted((ts, v["energy_kwh"]) for (d, ts), v in got.items() if d == device)
        return (regs[-1][1] - regs[0][1]) * multiplier

    main = used("ta-elec", 30)   # its CT ratio
    shares = {k: used(k) / main for k in ITEMS}
    assert abs(shares["ta-light"] - 0.45) < 0.03
    assert abs(shares["ta-ac"] - 0.30) < 0.03
    assert abs(shares["ta-power"] - 0.10) < 0.02
    assert 0.10 < 1 - sum(shares.values()) < 0.20, shares   # 未分项 ≈ 15 %
    assert main > 300   # a school day in a 9,000 m² teaching building: 5 W/m² in class hours, more than 300 kWh


def test_the_sample_keeps_its_meters_and_adds_three_sub_meters_and_a_virtual_one() -> None:
    """43 devices before issue 24, the three item sub-meters of teaching building A and the virtual public-area
    meter after (existing ids kept)."""
    assert len(CAMPUS.devices) == 43 + 3 + 1
    public = next(d for d in CAMPUS.devices if d.id == "pr-public")
    mains = {d.id for d in CAMPUS.devices if d.kind.value == "electricity" and d.parent is None and d.virtual is None
             and d.role != "incomer"}
    assert CAMPUS.virtual_terms()["pr-public"] == {"pr-main": 1.0, **{m: -1.0 for m in mains}}
    assert public.counts_in_totals is False
    assert [d.id for d in CAMPUS.devices if d.building == "teach-a"] == [
        "ta-elec", "ta-water", "ta-fountain", "ta-light", "ta-ac", "ta-power"]
