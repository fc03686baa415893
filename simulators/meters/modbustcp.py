"""Modbus TCP meters behind one address: pymodbus's server on its own asyncio loop thread, one device per
meter (its unit id), each register read filled live from the meter (``ModbusMeter.read``).

Faults on Modbus TCP: a meter that does not answer (or a unit id nobody has) gets exception 0B, "gateway
target device failed to respond" (Modbus application protocol V1.1b3 §7), as a Modbus TCP gateway in front
of RTU meters says it; a slow meter answers after its delay; a garbled checksum has no meaning on TCP (TCP
has its own) and is answered as exception 04, server device failure. A bus that is down closes its
server; up again, it listens again on the same port.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from simulators.meters.meter import SimMeter
from simulators.meters.modbus import ModbusMeter
from simulators.meters.sockets import host_port

log = logging.getLogger(__name__)


def _block(meter: ModbusMeter, function: int) -> list[SimData]:
    first, size = meter.ranges.get(function, (0, 0))
    if size == 0:
        return [SimData(0, count=1, datatype=DataType.INVALID)]
    return [SimData(first, count=size, values=0, datatype=DataType.REGISTERS)]


def _device(meter: ModbusMeter) -> SimDevice:
    async def action(function_code: int, start_address: int, address: int, count: int,
                     current_registers: list[int], set_values: list[int] | list[bool] | None) -> ExcCodes | None:
        faults = meter.faults()
        if faults["no_answer"]:
            return ExcCodes.GATEWAY_NO_RESPONSE
        if faults["garbled"]:
            return ExcCodes.DEVICE_FAILURE
        delay = meter.answer_delay if faults["slow"] is None else faults["slow"]
        if delay:
            await asyncio.sleep(delay)
        if set_values is not None:
            return ExcCodes.ILLEGAL_FUNCTION  # a simulated meter takes no writes
        result = meter.read(function_code, address, count)
        if isinstance(result, int):
            return ExcCodes(result)
        offset = address - start_address
        current_registers[offset:offset + count] = result
        return None

    coils = [SimData(0, count=1, values=False, datatype=DataType.BITS)]
    simdata = (coils, list(coils), _block(meter, 3), _block(meter, 4))
    return SimDevice(meter.unit, simdata=simdata, action=action)


def _nobody() -> SimDevice:
    async def action(*_args: Any) -> ExcCodes:
        return ExcCodes.GATEWAY_NO_RESPONSE

    coils = [SimData(0, count=1, values=False, datatype=DataType.BITS)]
    regs = [SimData(0, count=0x10000, values=0, datatype=DataType.REGISTERS)]  # any address: the action says
    return SimDevice(0, simdata=(coils, list(coils), regs, list(regs)), action=action)


class ModbusTcpLine:
    """The meters of a ``modbus_tcp`` bus behind ``address``; same life as a Line (start, stop, set_down)."""

    def __init__(self, name: str, meters: Sequence[SimMeter], *, address: str) -> None:
        self.name = name
        self.meters = [m for m in meters if isinstance(m, ModbusMeter)]
        if len(self.meters) != len(meters):
            raise ValueError(f"bus {name} is Modbus TCP: only modbus meters can be on it")
        self.address = address
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: ModbusTcpServer | None = None
        self._down = False

    @property
    def down(self) -> bool:
        return self._down

    def start(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name=f"sim-modbus-{self.name}", daemon=True)
        self._thread.start()
        try:
            self._call(self._listen())
        except BaseException:
            self.stop()
            raise

    def _call(self, coro: Any, timeout: float = 10.0) -> Any:
        if self._loop is None:
            raise RuntimeError(f"simulated Modbus TCP bus {self.name} is not started")
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    async def _listen(self) -> None:
        host, port = host_port(self.address)
        devices = [_device(m) for m in self.meters] + [_nobody()]
        server = ModbusTcpServer(devices, address=(host, self.port or port))
        await server.serve_forever(background=True)
        self._server = server
        if server.transport is not None and hasattr(server.transport, "sockets"):
            self.port = server.transport.sockets[0].getsockname()[1]
        else:
            self.port = self.port or port

    async def _shutdown(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()

    def set_down(self, on: bool) -> None:
        if on == self._down or self._loop is None:
            self._down = on
            return
        self._down = on
        self._call(self._shutdown() if on else self._listen())

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            if loop.is_running():
                self._loop = loop
                try:
                    self._call(self._shutdown())
                finally:
                    self._loop = None
                loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(10)
                self._thread = None
        finally:
            if not loop.is_running():
                loop.close()
