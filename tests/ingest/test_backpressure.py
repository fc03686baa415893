"""Store down and the spool full: ingest holds acknowledgements (the broker keeps the messages),
then drains and acknowledges once the real InfluxDB is back on its port."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from campus.model import load_campus
from ingest.config import IngestSettings, MqttSettings, StoreSettings
from ingest.decode import Inbound
from ingest.service import IngestService
from tests.support.paths import SAMPLE
from tests.support.servers import Influx, wait_for

pytestmark = pytest.mark.integration
T0 = 1_790_000_000


def _batch(start: int, n: int) -> list[Inbound]:
    return [Inbound("campus/yucai/c1-water/reading",
                    json.dumps({"ts": T0 + (start + i) * 60, "values": {"volume_m3": 1000 + start + i}}).encode(),
                    (T0 + 10**6) * 1000, start + i + 1, 1) for i in range(n)]


def test_full_spool_holds_acks_until_the_store_returns(tmp_path: Path, influx: Influx) -> None:
    influx.stop()  # the port stays ours: InfluxDB comes back on it later
    acked: list[int] = []
    service = IngestService(data_dir=tmp_path, mqtt=MqttSettings(),
                            store=StoreSettings(backend="influxdb", url=influx.url, database="bp", timeout_s=1),
                            ingest=IngestSettings(spool_max_readings=1000, retry_max_s=1.0, worker="thread"),
                            campus=load_campus(SAMPLE), connect_mqtt=False)
    service.pipeline.ack = lambda msg: acked.append(msg.mid)
    service.start()
    try:
        service.pipeline.commit(_batch(0, 1000))  # store down: spooled, then acknowledged
        assert len(acked) == 1000
        assert service.health().spool_depth == 1000
        assert service.health().status == "degraded"
        blocked = threading.Thread(target=service.pipeline.commit, args=(_batch(1000, 10),), daemon=True)
        blocked.start()
        blocked.join(2.0)
        assert blocked.is_alive()  # spool full: no room, no acknowledgement
        assert len(acked) == 1000
        influx.start()
        blocked.join(60)
        assert not blocked.is_alive()
        wait_for(lambda: service.store.count() == 1010, 60, "1010 readings in InfluxDB")
        assert len(acked) == 1010
        wait_for(lambda: service.health().status == "ok", 30, "healthy again")
    finally:
        service.stop()
