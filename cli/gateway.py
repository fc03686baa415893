"""``meterwatch gateway``: the field gateway process, and commissioning (``scan``, ``read``)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

log = logging.getLogger("meterwatch.gateway")

EXAMPLE = """example config (TOML):
  data_dir = "/var/lib/meterwatch-gateway"     # the buffer (buffer.db): readings wait here for the broker
  [mqtt]
  url = "mqtts://broker.campus.lan:8883"
  password = "..."          # meterwatch credentials issue gw-canteen-1 (username: the gateway id)
  cafile = "/etc/meterwatch/ca.pem"
  [campus]
  file = "/etc/meterwatch/campus.yaml"          # the server's campus file; its gateway lists the buses
  [gateway]
  id = "gw-canteen-1"
  # server = "https://energy.campus.lan"  token = "..."  site = "yucai"   # the device list from the API instead
  # backfill_days = 31   time_sync = false   buffer_max_readings = 1000000

examples:
  meterwatch gateway --config /etc/meterwatch/gateway.toml
  meterwatch gateway scan --config /etc/meterwatch/gateway.toml --bus rs485-1
  meterwatch gateway read --config /etc/meterwatch/gateway.toml --bus rs485-1 --meter 000012345678
"""


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "gateway", help="the field gateway: poll the meters on its buses and publish their readings",
        description="现场网关 / field gateway. Reads the meters of one gateway of the campus file (DL/T 645, CJ/T 188, "
                    "Modbus on its buses), each at its interval aligned to the clock, keeps every reading on disk "
                    "until the broker has acknowledged it, fills missed days from DL/T 645 daily freezes, and "
                    "publishes each meter's health. Runs until SIGTERM.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=None, help="the gateway's TOML config (see the example below)")
    p.set_defaults(run=run)
    steps = p.add_subparsers(dest="gateway_command", metavar="{scan,read}")

    s = steps.add_parser("scan", help="find what is on a bus; print lines to paste into the campus file",
                         description="扫描总线 / scan a bus: DL/T 645 read-address (one meter on the bus) and a probe "
                                     "of --address values; CJ/T 188 the broadcast address; Modbus a unit-id scan. "
                                     "Prints a device line per meter found, ready for the campus file. "
                                     "总线经 MQTT 的 4G DTU 时，先停网关进程 / on a bus behind a 4G DTU over MQTT, "
                                     "stop `meterwatch gateway` first: both log in as the gateway's account, and the "
                                     "broker (username = client id) lets each take the other's place.")
    s.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="the gateway's TOML config")
    s.add_argument("--bus", required=True, help="the bus's name in the campus file")
    s.add_argument("--protocol", choices=["dlt645", "dlt645_1997", "cjt188", "modbus"], default=None,
                   help="what to look for (default: every protocol the bus's meters speak, else dlt645)")
    s.add_argument("--address", action="append", default=[], metavar="ADDRESS",
                   help="a nameplate address to probe (repeat); DL/T 645 only")
    s.add_argument("--units", default="1-247", help="Modbus unit ids to try, e.g. 1-32 (default %(default)s)")
    s.set_defaults(run=scan)

    r = steps.add_parser("read", help="read one meter once; print what it answered, raw and decoded",
                         description="读表 / read one meter once and print the frames sent and received (hex) and the "
                                     "values decoded, for commissioning with a laptop in the distribution room. "
                                     "总线经 MQTT 的 4G DTU 时，先停网关进程 / on a bus behind a 4G DTU over MQTT, "
                                     "stop `meterwatch gateway` first: both log in as the gateway's account, and the "
                                     "broker (username = client id) lets each take the other's place.")
    r.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="the gateway's TOML config")
    r.add_argument("--bus", required=True, help="the bus's name in the campus file")
    r.add_argument("--meter", required=True, metavar="ADDRESS",
                   help="nameplate address (12 digits DL/T 645, 14 hex CJ/T 188), a Modbus unit id, or a device id")
    r.add_argument("--protocol", choices=["dlt645", "dlt645_1997", "cjt188", "modbus"], default=None,
                   help="default: the protocol of the device with that address, else dlt645")
    r.set_defaults(run=read)


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from campus.errors import ConfigError
    from gateway.config import load_gateway_settings

    if getattr(args, "config", None) is None:
        raise ConfigError("give --config FILE (meterwatch gateway --help shows an example)")
    return load_gateway_settings(args.config)


def run(args: argparse.Namespace) -> int:
    import os

    from campus.logs import setup_logging
    from gateway.process import GatewayProcess

    settings = _settings(args)  # a wrong config is said before this process changes anything of its own
    os.umask(0o077)  # whatever the running gateway creates (its buffer) is the service's alone
    setup_logging(settings.log_level)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    process = GatewayProcess(settings)
    try:
        process.start()
        stop.wait()
    finally:  # also when start fails half-way: every thread, port and socket it opened is closed
        process.stop()
    return 0


def _view(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from campus.errors import ConfigError
    from gateway.devicelist import ApiDeviceList, FileDeviceList

    settings = _settings(args)
    g = settings.gateway
    source = (ApiDeviceList(g.server, g.token.get_secret_value(), g.id, g.site) if g.server and g.token
              else FileDeviceList(settings.campus.file, g.id, g.site))
    view = source.fetch()
    if view is None:
        raise ConfigError("the device list answered nothing")
    buses = view.buses()
    if args.bus not in buses:
        raise ConfigError(f"gateway {g.id!r} has no bus {args.bus!r} (buses: {', '.join(buses) or 'none'})")
    return settings, view, buses[args.bus]


def scan(args: argparse.Namespace) -> int:
    from gateway import commission

    settings, view, (bus, devices) = _view(args)
    protocols = [args.protocol] if args.protocol else sorted(
        {d.meter.protocol.value for d in devices if d.meter is not None}) or ["dlt645"]
    units = _units(args.units)
    for protocol in protocols:
        print(f"扫描 scanning {bus.name} of {view.gateway.id} for {protocol} meters … (Ctrl-C to stop)",
              file=sys.stderr, flush=True)
        for line in commission.scan(settings.gateway.id, bus, protocol, addresses=args.address, units=units,
                                    mqtt=settings.broker()):
            print(line, flush=True)
    return 0


def _units(text: str) -> list[int]:
    """``1-32`` or ``1,5,7-9`` → unit ids (1-247)."""
    from campus.errors import ConfigError

    out: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            out += range(int(lo), int(hi or lo) + 1)
    except ValueError:
        raise ConfigError(f"--units {text!r}: unit ids like 1-247 or 1,5,7-9") from None
    if not out or min(out) < 1 or max(out) > 247:
        raise ConfigError(f"--units {text!r}: Modbus unit ids are 1-247")
    return out


def read(args: argparse.Namespace) -> int:
    from gateway import commission

    settings, view, (bus, devices) = _view(args)
    meter = args.meter
    named = next((d.meter for d in devices if d.id == meter and d.meter is not None), None)
    if named is not None:  # a device id: its address (or Modbus unit) on this bus
        meter = named.address or str(named.unit)
    print(f"读表 reading {meter} on {bus.name} …", file=sys.stderr, flush=True)
    print(commission.read_once(settings.gateway.id, bus, meter, devices=list(devices), protocol=args.protocol,
                               mqtt=settings.broker(), zone=view.site.timezone))
    return 0
