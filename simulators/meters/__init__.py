"""Simulated meter hardware: DL/T 645, CJ/T 188 and Modbus meters on ptys, serial servers, dial-in and MQTT
DTUs and Modbus TCP, for a real gateway to read (see :class:`SimulatedGateway`)."""

from simulators.meters.gateway import SimulatedGateway
from simulators.meters.meter import SimMeter

__all__ = ["SimMeter", "SimulatedGateway"]
