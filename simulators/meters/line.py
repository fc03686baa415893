"""The wire of one simulated bus: a thread that takes request bytes, asks the meters and sends their
answers paced at the bus's baud. The transports (a pty, a TCP serial server, a dial-in DTU, an MQTT DTU)
are subclasses that only move bytes.

Timing, as on a real RS-485 line: each byte takes ``bits ÷ baud`` seconds (11 bits for 8E1 and 8O1 — start,
8 data, parity, stop — 10 for 8N1, one more per extra stop bit). A request is complete when its last byte
would have arrived; a meter answers ``delay`` after that, and its bytes leave one byte time apart. One
transaction at a time: an answer never starts before the previous one has left.
"""

from __future__ import annotations

import logging
import os
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)


class Meters(Protocol):
    """What a line asks: the answers to the bytes that arrived, each (delay after the request, bytes)."""

    def receive(self, data: bytes) -> list[tuple[float, bytes]]: ...


def bits_per_byte(parity: str = "E", stopbits: int = 1) -> int:
    """Start bit + 8 data bits + parity bit (E, O; none for N) + stop bits."""
    return 1 + 8 + (0 if parity.upper() == "N" else 1) + stopbits


class Line:
    """One bus's thread. Subclasses open their transport in ``_open``, add its fds to the selector and call
    ``_incoming(data)``; they send with ``_send(data)`` and close everything in ``_close``."""

    whole_frames = False  # True: hand an answer to _send in one piece when its last byte is due (MQTT DTUs)
    tick_s = 0.5          # the longest the thread sleeps with nothing due (reconnects, heartbeats)

    def __init__(self, name: str, meters: Meters, *, baud: int, bits: int) -> None:
        self.name = name
        self.meters = meters
        self.baud = baud
        self.byte_s = bits / baud
        self._down = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = -1, -1
        self.selector: selectors.BaseSelector | None = None
        self._rx_end = 0.0   # when the last request byte has crossed the wire (monotonic)
        self._tx_end = 0.0   # when the last scheduled answer byte will have left
        self._out: deque[tuple[float, float, bytes]] = deque()  # (start, byte time, bytes) scheduled
        self.counters = {"requests_bytes": 0, "answers": 0, "answer_bytes": 0, "dropped_bytes": 0}

    # -- life ---------------------------------------------------------------------------------------
    def start(self) -> None:
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self._wake_r, selectors.EVENT_READ, self._drain_wake)
        try:
            self._open()
        except BaseException:
            self._release()
            raise
        self._thread = threading.Thread(target=self._run, name=f"sim-line-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stops the thread and closes every fd, socket and client the line holds. Idempotent."""
        self._stopping.set()
        if self._wake_w >= 0:
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(10)
            if self._thread.is_alive():
                raise RuntimeError(f"simulated bus {self.name}: its thread did not stop within 10 s")
            self._thread = None
        self._release()

    def _release(self) -> None:
        try:
            self._close()
        finally:
            if self.selector is not None:
                self.selector.close()
                self.selector = None
            for fd in (self._wake_r, self._wake_w):
                if fd >= 0:
                    os.close(fd)
            self._wake_r = self._wake_w = -1

    def set_down(self, on: bool) -> None:
        """A whole bus down: no byte crosses it (transports also drop their connections)."""
        if on:
            self._down.set()
        else:
            self._down.clear()
        self._wake()

    @property
    def down(self) -> bool:
        return self._down.is_set()

    def _wake(self) -> None:
        if self._wake_w >= 0:
            try:
                os.write(self._wake_w, b"w")
            except OSError:  # the pipe is full: the thread is awake anyway
                pass

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass

    # -- transport hooks ----------------------------------------------------------------------------
    def _open(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _send(self, data: bytes) -> None:
        raise NotImplementedError

    def _tick(self) -> None:
        """Called on every turn of the loop (reconnects, heartbeats, bus down)."""

    # -- the wire -----------------------------------------------------------------------------------
    def _incoming(self, data: bytes) -> None:
        if not data:
            return
        if self._down.is_set():
            self.counters["dropped_bytes"] += len(data)
            return
        now = time.monotonic()
        self.counters["requests_bytes"] += len(data)
        self._rx_end = max(now, self._rx_end) + len(data) * self.byte_s
        try:
            answers = self.meters.receive(data)
        except Exception:  # a simulated meter must never take its bus down with it
            log.exception("simulated bus %s: the meters failed on %s", self.name, data.hex())
            return
        for delay, answer in answers:
            start = max(self._rx_end + delay, self._tx_end)
            self._tx_end = start + len(answer) * self.byte_s
            self._out.append((start, self.byte_s, answer))
            self.counters["answers"] += 1

    def _flush(self) -> float | None:
        """Sends what is due; returns seconds until the next byte is due (None: nothing scheduled)."""
        now = time.monotonic()
        while self._out:
            start, byte_s, data = self._out[0]
            if self._down.is_set():
                self._out.popleft()
                continue
            due = int((now - start) / byte_s) if now >= start else 0
            if self.whole_frames:
                if now < start + len(data) * byte_s:
                    return start + len(data) * byte_s - now
                self._out.popleft()
                self._send_counted(data)
                continue
            if due <= 0:
                return start + byte_s - now
            part, rest = data[:due], data[due:]
            self._send_counted(part)
            if rest:
                self._out[0] = (start + len(part) * byte_s, byte_s, rest)
                return byte_s - ((now - start) % byte_s)
            self._out.popleft()
        return None

    def _send_counted(self, data: bytes) -> None:
        self.counters["answer_bytes"] += len(data)
        try:
            self._send(data)
        except OSError as exc:  # nobody is listening: the bytes are lost, as on a real line
            self.counters["dropped_bytes"] += len(data)
            log.debug("simulated bus %s: %d bytes lost: %s", self.name, len(data), exc)

    def watch(self, fileobj: int | socket.socket, callback: Callable[[], None]) -> None:
        """Call ``callback`` on the line's thread whenever ``fileobj`` is readable."""
        if self.selector is None:
            raise RuntimeError(f"simulated bus {self.name} is not started")
        self.selector.register(fileobj, selectors.EVENT_READ, callback)

    def unwatch(self, fileobj: int | socket.socket) -> None:
        if self.selector is not None:
            try:
                self.selector.unregister(fileobj)
            except (KeyError, ValueError):
                pass

    def _run(self) -> None:
        selector = self.selector
        if selector is None:
            return
        while not self._stopping.is_set():
            try:
                self._tick()
                wait = self._flush()
                timeout = self.tick_s if wait is None else min(max(wait, 0.0), self.tick_s)
                for key, _ in selector.select(timeout):
                    callback: Callable[[], None] = key.data
                    callback()
            except Exception:
                log.exception("simulated bus %s: the line failed; it goes on", self.name)
                time.sleep(0.05)
