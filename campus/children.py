"""Child processes of the service (the ingest worker, the alert engine): spawned, never forked
(the parent runs threads), connected by a pipe, ready when the child says so, stopped over the
pipe and terminated if they do not stop in time. A pipe rather than a shared lock: a child
killed while holding a multiprocessing lock would leave it locked for good."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

READY = "ready"
_CTX = multiprocessing.get_context("spawn")


def _named(target: Callable[..., None], name: str, *args: Any) -> None:
    """Run ``target`` under a process name that ps, top and /proc/PID/comm show (Linux, 15 characters)."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
            libc.prctl(15, name.removeprefix("meterwatch-").encode()[:15], 0, 0, 0)  # PR_SET_NAME
    target(*args)


def start_child(target: Callable[..., None], args: tuple[Any, ...], name: str,
                timeout: float) -> tuple[BaseProcess, Connection]:
    """Start ``target(conn, *args)`` and wait for it to send ``"ready"``; RuntimeError if it does not."""
    parent, child = _CTX.Pipe()
    proc = _CTX.Process(target=_named, args=(target, name, child, *args), name=name, daemon=True)
    proc.start()
    child.close()
    try:
        started = parent.poll(timeout) and parent.recv() == READY
    except (EOFError, OSError):
        started = False  # it died while starting
    if not started:
        proc.join(1)
        raise RuntimeError(f"{name} did not start within {timeout:.0f}s (exit code {proc.exitcode})")
    return proc, parent


def stop_child(proc: BaseProcess | None, conn: Connection | None, message: object, timeout: float) -> None:
    """Send ``message`` (the child's cue to finish), wait, then terminate."""
    if conn is not None:
        try:
            conn.send(message)
        except OSError:
            pass
    if proc is not None:
        proc.join(timeout)
        if proc.is_alive():
            proc.terminate()
            proc.join(5)
