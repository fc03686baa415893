"""Where the tests find the repository and the sample campus."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "simulators" / "sample_campus.yaml"
