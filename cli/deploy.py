"""``meterwatch deploy``: the broker's files from the registry, and a campus CA for its TLS."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "production files: Mosquitto's configuration, passwords and ACL; TLS certificates"


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dp = sub.add_parser("deploy", help=HELP)
    dsub = dp.add_subparsers(dest="deploy_command", required=True, metavar="WHAT")
    mq = dsub.add_parser(
        "mosquitto", help="write mosquitto.conf, passwd and acl from the registry and the credentials",
        description="No anonymous access; the username is the client id; each gateway or device may publish only "
                    "its own devices' reading and status topics; meterwatch's processes ([mqtt] username, [alerts] "
                    "username, [broker] service_accounts) read everything and the alert process publishes alerts. "
                    "Listeners, TLS files and the rest come from the [broker] section. Each file is replaced "
                    "atomically. Run the broker with: mosquitto -c DIR/mosquitto.conf")
    mq.add_argument("--config", type=Path, default=None, help="TOML config ([broker], [mqtt], [alerts], data_dir)")
    mq.add_argument("--out", type=Path, default=None,
                    help="directory for the three files (default [broker] config_dir, else DATA_DIR/mosquitto)")
    mq.add_argument("--reload", action="store_true",
                    help="then make the broker re-read them ([broker] pid_file or reload_command) and disconnect "
                         "everyone who lost access")
    ce = dsub.add_parser(
        "certs", help="make a campus CA, the broker's certificate and, optionally, client certificates",
        description="For campuses without their own PKI. Writes ca.crt/ca.key (kept and reused by later runs), "
                    "server.crt/server.key for the broker's host names and addresses, and clients/ID.crt/.key for "
                    "each --client (CN = the id, for [broker] use_identity_as_username). Keys are written 0600. "
                    "Then set [broker] cafile, certfile and keyfile to them.")
    ce.add_argument("--out", type=Path, required=True, help="directory for the files")
    ce.add_argument("--host", action="append", default=[], metavar="NAME",
                    help="the broker's DNS name or IP address as gateways reach it; repeatable")
    ce.add_argument("--client", action="append", default=[], metavar="ID", help="a client certificate; repeatable")
    ce.add_argument("--days", type=int, default=825, help="validity of server and client certificates "
                                                          "(default %(default)s)")
    dp.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.deploy_command == "certs":
        from deploy.certs import issue

        made = issue(args.out, hosts=args.host, clients=args.client, days=args.days)
        print(f"{'新建 made' if made.new_ca else '沿用 kept'} CA: {made.ca}")
        if made.server:
            print(f"broker certificate 服务器证书: {made.server} (hosts: {', '.join(args.host)})")
        for c in made.clients:
            print(f"client certificate 客户端证书: {c}")
        return 0
    from app.registry import open_registry
    from app.settings import load_settings
    from deploy.mosquitto import deploy_mosquitto

    settings = load_settings(args.config)
    open_registry(settings).close()  # before the first serve: the campus file's sites, as serve would seed them
    done = deploy_mosquitto(settings, args.out, reload=args.reload)
    print(f"已写入 wrote {done.out_dir}/mosquitto.conf, passwd, acl: {len(done.files.users)} accounts")
    if done.files.without_credentials:
        shown = ", ".join(done.files.without_credentials[:10])
        more = f" and {len(done.files.without_credentials) - 10} more" if len(done.files.without_credentials) > 10 \
            else ""
        print(f"未签发凭据 no credentials yet (cannot connect): {shown}{more} — meterwatch credentials issue ID")
    if done.reloaded:
        print("broker reloaded 已重新加载" + (f"; disconnected 已断开: {', '.join(done.disconnected)}"
                                             if done.disconnected else ""))
    if done.still_connected and not args.reload:  # the files are written; the broker has not read them yet
        print(f"revoked but still connected 已吊销但仍在线: {', '.join(done.still_connected)} — the broker must "
              "reload for the revocation to apply (--reload, or systemctl reload meterwatch-mosquitto)")
    elif done.still_connected:
        print(f"could not disconnect 未能断开: {', '.join(done.still_connected)} — restart the broker")
        return 1
    return 0
