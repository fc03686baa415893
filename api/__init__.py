"""meterwatch HTTP API, CLI and app assembly."""
