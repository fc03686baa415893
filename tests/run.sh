#!/usr/bin/env bash
# The test command (README): installs what the tests need, then runs lint, types and the whole suite.
#   - Debian packages mosquitto and influxdb (real servers the tests start on free loopback ports),
#     chromium (the web console tests drive it headless), fonts-wqy-microhei (Chinese text in the
#     PDF report), poppler-utils (pdftoppm: the PDF tests render pages to look at) and systemd
#     (systemd-analyze verifies the units in deploy/) and postgresql (the shared state's tests start
#     their own server in a temp directory on a free loopback port), with apt-get when running
#     as root; otherwise they must already be installed.
#   - Python dependencies into .venv (created if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v influxd >/dev/null 2>&1 || [ -x /usr/bin/influxd ] || need+=(influxdb)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # do not let the packages start system services: the tests start their own
    if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; trap 'rm -f /usr/sbin/policy-rc.d' EXIT; fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "missing: ${need[*]} — install them (sudo apt-get install ${need[*]}) or run as root" >&2
    exit 2
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  "$PY" -m venv .venv
fi
echo "== installing Python dependencies"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'

echo "== ruff"
.venv/bin/ruff check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
exec .venv/bin/python -m pytest "$@"
