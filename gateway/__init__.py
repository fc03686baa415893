"""The field gateway: reads meters on their buses (DL/T 645, CJ/T 188, Modbus) and publishes their readings."""
