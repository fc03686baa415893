"""Real Mosquitto and InfluxDB 1.x processes for the tests: free loopback ports, configs in a
temp dir, started and stopped by the tests themselves; and the app served by a real uvicorn."""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import uvicorn

if TYPE_CHECKING:
    from fastapi import FastAPI


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _binary(name: str, *candidates: str) -> str:
    for c in candidates:
        if os.path.exists(c):
            return c
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: run the test command from the README (bash tests/run.sh), "
                           f"which installs Debian's mosquitto and influxdb")
    return found


def wait_for(check, timeout: float, what: str, interval: float = 0.1):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - keep polling until the deadline
            last = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    """Ask a process to stop with ``sig``; kill it if it has not stopped within ``timeout``."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class _Process:
    name = "process"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self, timeout: float = 30) -> None:
        with (self.workdir / f"{self.name}.out").open("ab") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        wait_for(lambda: self.proc is not None and self.proc.poll() is None and self.ready(), timeout,
                 f"{self.name} on 127.0.0.1:{self.port}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        stop_process(self.proc, sig, 15)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


class Mosquitto(_Process):
    name = "mosquitto"

    def command(self) -> list[str]:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            # as root, mosquitto would switch to user 'mosquitto', who cannot write the temp dir
            f"user {getpass.getuser()}\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.workdir}/\n"
            "autosave_interval 30\n"  # and always on a clean shutdown

            # deliver up to 1000 unacknowledged QoS 1 messages at once (ingest batches), queue without limit
            "max_inflight_messages 1000\n"
            "max_queued_messages 0\n"
            "max_queued_bytes 0\n"
            f"log_dest file {self.workdir}/mosquitto.log\n"
        )
        return [_binary("mosquitto", "/usr/sbin/mosquitto"), "-c", str(conf)]

    def ready(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
            return True

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


class Influx(_Process):
    name = "influxd"

    def command(self) -> list[str]:
        d = self.workdir
        conf = d / "influxdb.conf"
        conf.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "127.0.0.1:{free_port()}"\n'
            f'[meta]\n  dir = "{d}/meta"\n'
            f'[data]\n  dir = "{d}/data"\n  wal-dir = "{d}/wal"\n  query-log-enabled = false\n'
            f'[http]\n  enabled = true\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
            "[monitor]\n  store-enabled = false\n"
            "[continuous_queries]\n  enabled = false\n"
        )
        return [_binary("influxd", "/usr/bin/influxd"), "-config", str(conf)]

    def ready(self) -> bool:
        return httpx.get(f"{self.url}/ping", timeout=1).status_code == 204

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class ConfiguredMosquitto(_Process):
    """Mosquitto run with a configuration meterwatch wrote (``meterwatch deploy mosquitto``): its listeners,
    passwords and ACL as generated, on ports the test chose beforehand."""

    name = "mosquitto"

    def __init__(self, workdir: Path, conf: Path, port: int) -> None:
        super().__init__(workdir)
        self.conf, self.port = conf, port

    def command(self) -> list[str]:
        return [_binary("mosquitto", "/usr/sbin/mosquitto"), "-c", str(self.conf)]

    def ready(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
            return True


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` on 127.0.0.1:free port until the block ends; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 20, "uvicorn")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
