"""The fast line-protocol writer against influxdb-client's Point, the reference."""

from __future__ import annotations

import random

from campus.contract import Kind, Reading
from ingest.stores.influx import to_line, to_line_reference


def test_fast_lines_equal_influxdb_client_point() -> None:
    rng = random.Random(5)
    samples = [0.0, 5.0, 1e-05, 2.5e-07, 1e16, 1e20, 123456789.123, -3.25, 0.1 + 0.2]
    for i in range(500):
        values = {"energy_kwh": rng.choice(samples + [rng.uniform(0, 1e6)]), "power_kw": rng.uniform(-5, 500),
                  "power_factor": rng.uniform(-1, 1)}
        if i % 3:
            values.pop("power_kw")
        r = Reading(f"dev-{i}", 1_790_000_000_000 + i, Kind.ELECTRICITY, "yucai", "b.1", "dormitory", "zone_n",
                    values, None if i % 2 else i)
        assert to_line(r) == to_line_reference(r)
