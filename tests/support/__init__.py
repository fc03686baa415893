"""What the tests share: real servers (Mosquitto, InfluxDB, SMTP, HTTP), peers, fuzz strategies,
tokens, the alert app and drivers. Fixtures live in conftest.py."""
