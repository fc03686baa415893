"""One simulated meter: its true register, its clock, its daily freezes and its faults.

The protocol it speaks is a subclass (:mod:`simulators.meters.dlt645`, ``cjt188``, ``modbus``); this module
knows no frame. Everything here is thread-safe: a line thread asks the meter while a test sets a fault.

Rules:
- the meter's clock is the gateway's ``now()`` plus an offset (meters drift); a DL/T 645 broadcast time
  sets it (the offset becomes what the broadcast said minus ``now()``);
- a daily freeze is taken at 00:00 of the meter's own clock: the n-th last freeze (n = 1 … 62, as
  DL/T 645-2007 keeps them) is stamped with that midnight and holds the register at the true moment the
  meter's clock showed it;
- a replaced meter has a new address and a register that starts at 0 at the moment of replacement; its
  freezes from before it was installed read 0, as a new meter's empty freeze records do;
- faults: ``no_answer``, ``garbled`` (the answer's checksum is wrong), ``noise`` (bytes on the line before
  the answer), ``slow(delay_s)`` (answers after that long instead of ``answer_delay_s``).
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from simulators.meters.register import TrueRegister

FREEZES = 62  # DL/T 645-2007 keeps the last 62 daily freezes (上1次 … 上62次日冻结)
KIND_REGISTER = {"electricity": "energy_kwh", "water": "volume_m3", "gas": "volume_m3"}


class SimMeter:
    """A meter on a simulated bus. ``handle(frame)`` is the protocol's, in the subclasses."""

    protocol = "none"

    def __init__(self, device: dict[str, Any], register: TrueRegister, *, now: Callable[[], datetime],
                 answer_delay_s: float = 0.03, seed: int = 1) -> None:
        link = device.get("meter") or {}
        self.device_id: str = str(device["id"])
        self.kind: str = str(device["kind"])
        self.bus: str = str(link.get("bus", ""))
        self.link: dict[str, Any] = link
        self.register = register
        self.tz = register.tz
        self.seed = seed
        self._now = now
        self._lock = threading.Lock()
        self._address = str(link.get("address") or "").upper()
        self._offset = timedelta(0)
        self._answer_delay = answer_delay_s
        self._no_answer = self._garbled = self._noise = False
        self._slow: float | None = None
        self._replaced_at: datetime | None = None
        self._answers = 0

    # -- identity and clock -------------------------------------------------------------------------
    @property
    def address(self) -> str:
        with self._lock:
            return self._address

    @property
    def answer_delay(self) -> float:
        """Seconds between a request's last byte and the answer's first, without the slow fault."""
        return self._answer_delay

    def now(self) -> datetime:
        """True time (the gateway's clock), in the site's zone."""
        return self._now().astimezone(self.tz)

    def clock(self) -> datetime:
        """What the meter's own clock shows now."""
        with self._lock:
            return self.now() + self._offset

    def set_clock(self, at: datetime) -> None:
        """A time broadcast: from now on the meter's clock shows ``at`` (naive: the site's time)."""
        at = at if at.tzinfo else at.replace(tzinfo=self.tz)
        with self._lock:
            self._offset = at - self.now()

    def drift(self, seconds: float) -> None:
        """Set the meter's clock ``seconds`` ahead of true time (negative: behind)."""
        with self._lock:
            self._offset = timedelta(seconds=seconds)

    # -- the register -------------------------------------------------------------------------------
    def register_at(self, t: datetime) -> float:
        """The true register at ``t``: what the meter installed at ``t`` shows (consumption must equal it)."""
        with self._lock:
            replaced = self._replaced_at
        if replaced is not None and t >= replaced:
            return max(self.register.at(t) - self.register.at(replaced), 0.0)
        return self.register.at(t)

    def values_at(self, t: datetime) -> dict[str, float]:
        """Every value the meter shows at ``t``: its register, and power, voltage, current and power factor
        (electricity) or flow (water, gas), consistent with the register's slope."""
        rate = self.register.rate(t)
        if self.kind != "electricity":
            return {"volume_m3": self.register_at(t), "flow_m3h": rate}
        minute = int(t.timestamp() // 60)
        rng = random.Random(f"{self.seed}:{self.device_id}:{minute}:volts")
        volts = 220.0 + rng.uniform(-4.0, 4.0)
        pf = 0.92 + rng.uniform(-0.03, 0.03) if rate > 0 else 1.0
        # three phases: P = 3 × U × I × PF, so I = P / (3 U PF)
        current = rate * 1000 / (3 * volts * pf)
        return {"energy_kwh": self.register_at(t), "power_kw": rate, "voltage_v": volts, "current_a": current,
                "power_factor": pf}

    def freeze(self, n: int) -> tuple[datetime, float]:
        """The n-th last daily freeze (1 = today's 00:00 by the meter's clock): (its stamp, register)."""
        if not 1 <= n <= FREEZES:
            raise ValueError(f"a meter keeps freezes 1 … {FREEZES}, not {n}")
        with self._lock:
            offset, replaced = self._offset, self._replaced_at
        shown = self.now() + offset
        midnight = shown.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=n - 1)
        midnight = midnight.replace(tzinfo=None).replace(tzinfo=self.tz)  # wall-clock midnight in the zone
        true = midnight - offset
        if replaced is not None and true < replaced:
            return midnight, 0.0
        return midnight, self.register_at(true)

    # -- faults (thread-safe, at run time) ----------------------------------------------------------
    def no_answer(self, on: bool = True) -> None:
        with self._lock:
            self._no_answer = on

    def garbled(self, on: bool = True) -> None:
        with self._lock:
            self._garbled = on

    def noise(self, on: bool = True) -> None:
        with self._lock:
            self._noise = on

    def slow(self, delay_s: float | None) -> None:
        """Answer after ``delay_s`` seconds (None: back to the normal delay)."""
        if delay_s is not None and (not math.isfinite(delay_s) or delay_s < 0):
            raise ValueError(f"a delay is a finite number of seconds ≥ 0, not {delay_s}")
        with self._lock:
            self._slow = delay_s

    def replace(self, new_address: str) -> None:
        """The meter is swapped for a new one at ``new_address`` whose register starts at 0 now."""
        with self._lock:
            self._address = new_address.upper()
            self._replaced_at = self.now()

    def faults(self) -> dict[str, Any]:
        with self._lock:
            return {"no_answer": self._no_answer, "garbled": self._garbled, "noise": self._noise,
                    "slow": self._slow, "replaced": self._replaced_at is not None}

    # -- what the line does with an answer ----------------------------------------------------------
    def shape(self, answer: bytes) -> tuple[float, bytes] | None:
        """The faults applied to an answer: None (no answer), or (delay before it, the bytes on the line)."""
        with self._lock:
            if self._no_answer:
                return None
            delay = self._answer_delay if self._slow is None else self._slow
            garbled, noise = self._garbled, self._noise
            self._answers += 1
            count = self._answers
        if garbled:
            answer = corrupt_checksum(answer)
        if noise:
            rng = random.Random(f"{self.seed}:{self.device_id}:{count}:noise")
            # line noise: 1-8 bytes that are not a start byte (0x68), so the frame after them stays whole
            answer = bytes(rng.choice([b for b in range(256) if b != 0x68]) for _ in range(rng.randint(1, 8))) \
                + answer
        return delay, answer

    def handle(self, frame: Any) -> bytes | None:
        """The answer to a request frame of this meter's protocol, or None (not for it, or no answer due)."""
        raise NotImplementedError


def corrupt_checksum(frame: bytes) -> bytes:
    """The frame with its checksum byte wrong. DL/T 645 and CJ/T 188 end in CS 16; Modbus RTU in a CRC."""
    if len(frame) >= 2 and frame[-1] == 0x16:
        return frame[:-2] + bytes([(frame[-2] + 1) & 0xFF, 0x16])
    if len(frame) >= 1:
        return frame[:-1] + bytes([frame[-1] ^ 0x5A])
    return frame
