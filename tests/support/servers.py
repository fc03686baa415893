"""Real Mosquitto, InfluxDB 1.x and PostgreSQL processes for the tests: free loopback ports, configs in a
temp dir, started and stopped by the tests themselves; and the app served by a real uvicorn."""

from __future__ import annotations

import contextlib
import getpass
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
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


class Postgres(_Process):
    """A real PostgreSQL (Debian's ``postgresql``): a cluster made by ``initdb`` in a temp directory, listening
    on 127.0.0.1 at a free port, with password authentication over TCP (the tests check that the password never
    shows). As root it runs as the ``postgres`` user, which PostgreSQL requires, in a directory of its own
    (pytest's temp dirs are 0700 to root). :meth:`database` makes a fresh database for a test."""

    name = "postgres"
    user, password = "meterwatch", "pg-secret-7Hq"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.run_as = "postgres" if os.geteuid() == 0 else None
        self.home = Path(tempfile.mkdtemp(prefix="mw-pg-"))
        self.data = self.home / "data"
        if self.run_as is not None:
            shutil.chown(self.home, self.run_as)
        pwfile = self.home / "pw"
        pwfile.write_text(self.password + "\n")
        if self.run_as is not None:
            shutil.chown(pwfile, self.run_as)
        subprocess.run([self._bin("initdb"), "-D", str(self.data), "-U", self.user, "--pwfile", str(pwfile),
                        "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C.UTF-8"],
                       check=True, capture_output=True, user=self.run_as, timeout=120)
        pwfile.unlink()

    @staticmethod
    def _bin(name: str) -> str:
        found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
        if not found:
            raise RuntimeError("PostgreSQL not found: run the test command from the README (bash tests/run.sh), "
                               "which installs Debian's postgresql")
        return str(found[-1])

    def command(self) -> list[str]:
        return [self._bin("postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.home),
                "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300", "-c", "shared_buffers=32MB",
                "-c", f"log_directory={self.home}", "-c", "logging_collector=off"]

    def start(self, timeout: float = 60) -> None:
        with (self.workdir / f"{self.name}.out").open("ab") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.home,
                                         user=self.run_as)
        wait_for(lambda: self.proc is not None and self.proc.poll() is None and self.ready(), timeout,
                 f"{self.name} on 127.0.0.1:{self.port}")

    def stop(self, sig: int = signal.SIGINT) -> None:  # SIGINT: PostgreSQL's fast shutdown (SIGTERM waits for clients)
        super().stop(sig)

    def ready(self) -> bool:
        import psycopg

        with psycopg.connect(self.url("postgres"), connect_timeout=2):
            return True

    def url(self, database: str = "meterwatch", *, password: bool = True) -> str:
        secret = f":{self.password}" if password else ""
        return f"postgresql://{self.user}{secret}@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        """A new, empty database; its url (with the password)."""
        import psycopg

        name = f"t{secrets.token_hex(6)}"
        with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)
