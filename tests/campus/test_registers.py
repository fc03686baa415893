"""The register rules, each with numbers worked out by hand."""

from __future__ import annotations

from campus.registers import Flag, consumption, value_at

H = 3_600_000


def test_plain_consumption_with_multiplier() -> None:
    c = consumption([(0, 100.0), (H, 101.5), (2 * H, 103.0)], multiplier=40)
    assert c.total == 120.0
    assert not c.flagged


def test_timestamp_order_not_arrival_order() -> None:
    arrived = [(2 * H, 103.0), (0, 100.0), (H, 101.0), (H, 101.5)]  # late, out of order, repeated ts
    c = consumption(arrived)
    assert c.total == 3.0
    assert [s.end_ms for s in c.steps] == [H, 2 * H]


def test_drop_below_90_percent_is_a_new_cycle() -> None:
    c = consumption([(0, 5000.0), (H, 5002.0), (2 * H, 1.0), (3 * H, 3.0)], rated_capacity=10)
    assert [s.flag for s in c.steps] == [None, Flag.NEW_CYCLE, None]
    assert c.total == 2.0 + 1.0 + 2.0  # new meter counted from zero (1 in an hour is plausible)


def test_new_cycle_from_an_implausible_start_counts_nothing() -> None:
    c = consumption([(0, 5000.0), (H, 3000.0), (2 * H, 3001.0)], rated_capacity=10)
    assert c.steps[0].flag is Flag.NEW_CYCLE
    assert c.steps[0].delta == 0
    assert c.total == 1.0


def test_small_dip_is_flagged_and_never_counted_twice() -> None:
    c = consumption([(0, 100.0), (H, 99.5), (2 * H, 101.0)])
    assert [s.flag for s in c.steps] == [Flag.DIP, None]
    assert c.total == 1.0  # from the high-water mark 100, not from the dip


def test_implausible_jump_excluded_and_glitch_recovered() -> None:
    c = consumption([(0, 100.0), (H, 100_000.0), (2 * H, 102.0), (3 * H, 104.0)], rated_capacity=50)
    assert [s.flag for s in c.steps] == [Flag.IMPLAUSIBLE, None, None]
    assert c.total == 4.0
    assert len(c.excluded) == 1


def test_lasting_jump_becomes_the_new_base() -> None:
    c = consumption([(0, 100.0), (H, 10_000.0), (2 * H, 10_010.0)], rated_capacity=50)
    assert [s.flag for s in c.steps] == [Flag.IMPLAUSIBLE, None]
    assert c.total == 10.0


def test_value_at_an_instant() -> None:
    assert value_at((0, 100.0), (H, 110.0), H // 2) == 105.0
    assert value_at((0, 100.0), (H, 5.0), H // 2) == 100.0   # across a new cycle: hold
    assert value_at((0, 100.0), None, 5 * H) == 100.0        # after the last reading: hold
    assert value_at(None, (H, 110.0), 0) is None               # before the first: unknown
