"""The campus model and the ground every part stands on: sites, buildings, zones, devices and
gateways; the registry; the payload contract; registers, labels, the school calendar, the clock,
durations; the YAML reader, the error tree, SQLite, logging, child processes. Imports nothing of
meterwatch's outside itself."""
