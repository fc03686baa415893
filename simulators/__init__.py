"""Campus simulators: publish realistic readings and injected faults over real MQTT.

Only the public payload contract (README) is used: no import of ingest.
"""
