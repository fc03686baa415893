"""meterwatch ingest: MQTT payloads → validated readings → a time-series store."""
