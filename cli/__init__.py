"""The ``meterwatch`` command: one module per command group, and ``serve``/``demo``."""
