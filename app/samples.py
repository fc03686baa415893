"""What the demo and a first `serve` fall back to: the packaged sample campus and duty roster, and a free
local port. Shared by the CLI, `serve`/`demo` and the offline report, so none of them imports another."""

from __future__ import annotations

import socket
from pathlib import Path


def sample_campus() -> Path:
    import simulators

    return Path(simulators.__file__).parent / "sample_campus.yaml"


def sample_roster() -> Path:
    import alerts

    return Path(alerts.__file__).parent / "sample_roster.yaml"


def sample_plans() -> Path:
    import alerts

    return Path(alerts.__file__).parent / "sample_plans.yaml"


def sample_billing() -> Path:
    import billing

    return Path(billing.__file__).parent / "sample_billing.yaml"


def free_port(host: str, wanted: int) -> int:
    """``wanted`` if it is free on ``host``, else any free port (0 asks for any)."""
    with socket.socket() as s:
        try:
            s.bind((host, wanted))
            return int(s.getsockname()[1])
        except OSError:
            s.bind((host, 0))
            return int(s.getsockname()[1])
