"""``GET /metrics`` in the Prometheus text format, built at scrape time from the live counters."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from alerts.desk import AlertDesk
from ingest.service import IngestService

router = APIRouter(tags=["health"])


class _Snapshot:
    """A prometheus_client collector over the service and the alert desk, read when scraped."""

    def __init__(self, service: IngestService, alerts: AlertDesk | None) -> None:
        self.service, self.alerts = service, alerts

    def collect(self) -> Iterator[Metric]:
        c = self.service.counters
        for name, value, help_ in (
            ("meterwatch_messages_received", c.received, "MQTT messages received by ingest"),
            ("meterwatch_messages_acknowledged", c.acknowledged, "MQTT messages acknowledged after commit"),
            ("meterwatch_readings_stored", c.stored, "readings written to the time-series store"),
            ("meterwatch_readings_spooled", c.spooled, "readings held in the on-disk spool while the store was down"),
            ("meterwatch_messages_dead_lettered", c.dead_lettered, "refused messages kept as dead letters"),
        ):
            yield CounterMetricFamily(name, help_ + " (since start)", value=value)
        yield GaugeMetricFamily("meterwatch_spool_depth", "readings waiting in the spool",
                                value=self.service.spool.depth)
        yield GaugeMetricFamily("meterwatch_dead_letters", "dead letters waiting for replay",
                                value=self.service.dead_letters.count())
        usage = self.service.dead_letters.usage()
        yield GaugeMetricFamily("meterwatch_dead_letter_bytes", "bytes held by dead letters (payloads and reasons)",
                                value=usage.bytes)
        yield GaugeMetricFamily("meterwatch_dead_letter_fill", "the fuller of the dead-letter bounds, 0-1 "
                                "([ingest] dead_letter_max_count / _max_bytes)", value=usage.fill)
        yield CounterMetricFamily("meterwatch_dead_letters_evicted", "dead letters dropped at the bound "
                                  "(replayed ones first, then the oldest)", value=usage.evicted)
        yield GaugeMetricFamily("meterwatch_mqtt_connected", "1 when ingest is subscribed to the broker",
                                value=1 if self.service.mqtt is None or self.service.mqtt.connected else 0)
        if self.alerts is not None:
            by_state = GaugeMetricFamily("meterwatch_alerts", "alerts by state", labels=["state"])
            counts = self.alerts.store.counts()  # real ones: drills are counted apart
            for state in ("active", "acknowledged", "resolved"):
                by_state.add_metric([state], counts.get(state, 0))
            yield by_state
            drills = GaugeMetricFamily("meterwatch_drill_alerts", "alerts drills (演练) raised, by state: never in "
                                       "meterwatch_alerts", labels=["state"])
            counts = self.alerts.store.counts(drills=True)
            for state in ("active", "acknowledged", "resolved"):
                drills.add_metric([state], counts.get(state, 0))
            yield drills
            yield GaugeMetricFamily("meterwatch_notifications_failed", "notices given up after every retry",
                                    value=self.alerts.store.failed_notices())
            yield GaugeMetricFamily("meterwatch_alert_evaluation_failures", "messages the alert engine could not "
                                    "evaluate (recorded and skipped; the newest 10,000 kept)",
                                    value=self.alerts.store.failure_count())


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(request.app.state.service, getattr(request.app.state, "alerts", None)))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
