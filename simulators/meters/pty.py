"""A serial bus as a pseudo-terminal: the gateway opens the pty's slave (through a symlink at the bus's
``serial:`` path) with pyserial exactly as it opens /dev/ttyUSB0; the meters sit on the master side.

Both ends are raw (no echo, no line editing, no CR/LF translation), so every byte crosses unchanged. The
simulator keeps the slave open itself, so the master never reads EIO while the gateway has the port
closed. The master is non-blocking: bytes nobody reads are dropped when the pty's buffer is full, as on
a line nobody listens to.

A pty has no parity: Linux drops PARENB from its termios, and (the kernels here) refuses with EINVAL a
tcsetattr that asks for parity and would change nothing else in c_cflag. pyserial opening the pty a second
time with parity E asks exactly that, and fails. So the line sets the slave's speed back to 38400 (19200 on
a 38400 bus) whenever someone has set another (pyserial sets the bus's baud): every later configuration then
changes the speed, and succeeds. A pty's speed means nothing to the bytes; the line paces them at the bus's baud itself.
"""

from __future__ import annotations

import contextlib
import os
import termios
import tty
from pathlib import Path

from simulators.meters.line import Line, Meters


class PtyLine(Line):
    tick_s = 0.05  # how soon a pty is ready for the next open (see above)
    def __init__(self, name: str, meters: Meters, *, baud: int, bits: int, link: str | None = None) -> None:
        super().__init__(name, meters, baud=baud, bits=bits)
        self.link = Path(link) if link else None
        self.master = self.slave = -1
        self.path = ""

    def _open(self) -> None:
        self.master, self.slave = os.openpty()
        for fd in (self.master, self.slave):
            tty.setraw(fd, termios.TCSANOW)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        if self.link is not None:
            if self.link.is_symlink():
                self.link.unlink()
            elif self.link.exists():
                raise FileExistsError(f"simulated bus {self.name}: {self.link} exists and is not a symlink; "
                                      "give the bus a serial: path of its own (e.g. in a temp dir)")
            self.link.parent.mkdir(parents=True, exist_ok=True)
            self.link.symlink_to(self.path)
        self.watch(self.master, self._readable)

    def _tick(self) -> None:
        if self.slave < 0:
            return
        try:
            attrs = termios.tcgetattr(self.slave)
            idle = termios.B38400 if self.baud != 38400 else termios.B19200
            if attrs[2] & termios.CBAUD != idle or attrs[4] != idle:
                attrs[2] = attrs[2] & ~termios.CBAUD | idle
                attrs[4] = attrs[5] = idle
                termios.tcsetattr(self.slave, termios.TCSANOW, attrs)
        except termios.error:
            pass

    def _readable(self) -> None:
        try:
            data = os.read(self.master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # EIO: no slave open (cannot happen while we hold it, but never spin on it)
            return
        self._incoming(data)

    def _send(self, data: bytes) -> None:
        if self.master >= 0:
            os.write(self.master, data)

    def _close(self) -> None:
        if self.link is not None and self.link.is_symlink():
            with contextlib.suppress(OSError):
                if os.readlink(self.link) == self.path:
                    self.link.unlink()
        for fd in (self.master, self.slave):
            if fd >= 0:
                os.close(fd)
        self.master = self.slave = -1
