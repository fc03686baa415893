"""The wire: the frames meters speak (DL/T 645-2007/1997, CJ/T 188, Modbus register maps).

Imports nothing of meterwatch: the gateway reads with it, and the simulated meters answer with it."""
