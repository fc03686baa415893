"""The files in deploy/, checked as far as this machine allows. The systemd units go through
`systemd-analyze verify`. The compose file is validated against the Compose Specification's JSON schema
(vendored from compose-spec/compose-spec, Apache-2.0, see tests/deploy/LICENSE). The Dockerfile is
checked against the repository (what it copies exists, what it runs is installed). No container can
run here (no container runtime): nothing is built or started."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.support.paths import ROOT

DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
CONTAINER = DEPLOY / "container"
UNITS = ["meterwatch.service", "meterwatch-alerts.service", "meterwatch-mosquitto.service",
         "meterwatch-mosquitto-reload.path", "meterwatch-mosquitto-reload.service", "meterwatch-bulletin.service",
         "meterwatch-bulletin.timer"]


def test_every_systemd_unit_verifies(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    assert tool is not None, "systemd-analyze missing: bash tests/run.sh installs systemd"
    meterwatch = Path(sys.prefix) / "bin" / "meterwatch"  # where this checkout's meterwatch is installed
    for name in UNITS:
        text = (SYSTEMD / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace("/opt/meterwatch/.venv/bin/meterwatch", str(meterwatch)),
                                     encoding="utf-8")
    out = subprocess.run([tool, "verify", *[str(tmp_path / n) for n in UNITS]], capture_output=True, text=True,
                         timeout=60, check=False)
    problems = [line for line in (out.stdout + out.stderr).splitlines()
                if line.strip() and "Failed to put bus name" not in line and "System has not been booted" not in line
                and "unit file is marked world-inaccessible" not in line]
    assert out.returncode == 0, out.stderr
    assert problems == [], problems


@pytest.mark.parametrize("name", ["meterwatch.service", "meterwatch-alerts.service", "meterwatch-mosquitto.service",
                                  "meterwatch-bulletin.service"])
def test_each_service_is_sandboxed(name: str) -> None:
    lines = dict(line.split("=", 1) for line in (SYSTEMD / name).read_text(encoding="utf-8").splitlines()
                 if "=" in line and not line.startswith("#"))
    assert lines["UMask"] == "0077"
    assert lines["NoNewPrivileges"] == "true"
    assert lines["ProtectSystem"] == "strict"
    assert lines["PrivateTmp"] == "true"
    assert lines["CapabilityBoundingSet"] == ""
    assert "User" in lines


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads((Path(__file__).parent / "compose-spec.json").read_text(encoding="utf-8"))
    doc = yaml.safe_load((CONTAINER / "compose.yaml").read_text(encoding="utf-8"))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]
    assert errors == []
    assert set(doc["services"]) == {"meterwatch", "mosquitto", "influxdb", "grafana", "postgres"}
    env = doc["services"]["meterwatch"]["environment"]
    assert env["METERWATCH_STATE__URL"].startswith("postgresql://meterwatch@postgres:5432/")  # no password in it
    assert env["PGPASSWORD"] == doc["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]
    build = doc["services"]["meterwatch"]["build"]
    assert (CONTAINER / build["context"] / build["dockerfile"]).is_file()
    assert doc["services"]["grafana"]["image"].startswith("grafana/grafana:11.6")  # the dashboards' version


def test_dockerfile_copies_what_exists_and_runs_what_it_installs() -> None:
    text = (CONTAINER / "Dockerfile").read_text(encoding="utf-8")
    context = ROOT  # compose.yaml's build context
    for line in text.splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (context / src).exists(), src
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert re.search(r'ENTRYPOINT \["meterwatch"\]', text)
    assert "meterwatch" in scripts
    # every installed package reaches the image: the whole tree is copied, and the ignore file leaves none out
    assert "COPY . /src" in text
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    ignored = {line.strip().rstrip("/") for line in (CONTAINER / "Dockerfile.dockerignore").read_text(
        encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")}
    for package in (p.rstrip("*") for p in packages["packages"]["find"]["include"]):
        assert (ROOT / package / "__init__.py").is_file(), package
        assert package not in ignored, package
