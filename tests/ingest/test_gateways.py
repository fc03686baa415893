"""Gateways in the registry, their credentials, and the broker files rendered from them (no broker here:
tests/api/test_broker_deploy.py runs a real Mosquitto on what is rendered)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campus.db import DataDir
from campus.errors import AlreadyExists, ConfigError, NotFound
from campus.ledger import read_ledger
from campus.model import Campus, parse_campus
from deploy.brokerfiles import ServiceAccount, render, users_in, write
from deploy.credentials import Credentials, mosquitto_hash, verify
from ingest.config import BrokerSettings

CAMPUS = """
site: {id: s1, name: 测试校区}
buildings: [{id: b1, name: 一号楼, department: office}]
gateways: [{id: gw-1, name: 一号楼集中器, building: b1}]
devices:
  - {id: m1, kind: electricity, building: b1, gateway: gw-1}
  - {id: m2, kind: water, building: b1, gateway: gw-2}
  - {id: q1, kind: water_quality, building: b1, role: drinking}
"""
NO_TLS = BrokerSettings(tls_port=0, user=None, pid_file=None)


def test_who_publishes_for_whom() -> None:
    campus = parse_campus(CAMPUS)
    assert {who: [d.id for d in devs] for who, devs in campus.publishers().items()} == {
        "gw-1": ["m1"], "gw-2": ["m2"], "q1": ["q1"]}  # gw-2 named by a device: added; q1 publishes for itself
    assert [g.id for g in campus.gateways] == ["gw-1", "gw-2"]


@pytest.mark.parametrize(("change", "error"), [
    ("gateways: [{id: m1}]", "has the id of a device"),
    ("gateways: [{id: gw-1, building: nowhere}]", "unknown building"),
])
def test_gateway_mistakes_are_named(change: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        parse_campus(CAMPUS.replace("gateways: [{id: gw-1, name: 一号楼集中器, building: b1}]", change))


def test_a_device_cannot_name_another_device_as_its_gateway() -> None:
    with pytest.raises(ConfigError, match="is a device's id"):
        parse_campus(CAMPUS.replace("gateway: gw-2", "gateway: q1"))


def test_a_ledger_names_gateways_in_chinese(tmp_path: Path) -> None:
    ledger = tmp_path / "台账.csv"
    ledger.write_text("表号,类型,楼栋,集中器\nm9,电表,b1,gw-9\n", encoding="utf-8")
    (dev,) = read_ledger(ledger)
    assert dev.gateway == "gw-9"


def test_our_hashes_are_mosquittos_format() -> None:
    ours = mosquitto_hash("s3cret")
    assert ours.startswith("$7$101$")
    assert verify("s3cret", ours)
    assert not verify("s3cret!", ours)
    assert not verify("s3cret", "$6$nope")


def test_mosquitto_passwd_hashes_verify(tmp_path: Path) -> None:
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    pw = tmp_path / "pw"
    subprocess.run([tool, "-c", "-b", str(pw), "alice", "s3cret"], check=True)
    stored = pw.read_text(encoding="utf-8").strip().split(":", 1)[1]
    assert verify("s3cret", stored)


def test_issue_rotate_revoke(tmp_path: Path) -> None:
    store = Credentials(DataDir(tmp_path).state)
    try:
        first = store.issue("gw-1")
        with pytest.raises(AlreadyExists, match="rotate"):
            store.issue("gw-1")
        second = store.rotate("gw-1")
        assert second != first
        assert verify(second, store.active()["gw-1"])
        assert not verify(first, store.active()["gw-1"])
        store.revoke("gw-1")
        assert store.active() == {}
        (c,) = store.list()
        assert c.revoked_ms is not None
        assert c.hash is None
        with pytest.raises(NotFound):
            store.rotate("gw-1")
        with pytest.raises(NotFound):
            store.revoke("gw-1")
        again = store.issue("gw-1")  # a revoked id may be issued anew
        assert verify(again, store.active()["gw-1"])
    finally:
        store.close()


def test_the_acl_lets_each_publisher_write_only_its_own_devices(tmp_path: Path) -> None:
    campus = parse_campus(CAMPUS)
    files = render(NO_TLS, campus, {"gw-1": mosquitto_hash("a"), "q1": mosquitto_hash("b")},
                   [ServiceAccount("mw-ingest", "x"), ServiceAccount("mw-alerts", "y", publishes_alerts=True)],
                   "campus", tmp_path)
    blocks: dict[str, list[str]] = {}
    user = None
    for line in files.acl.splitlines():
        if line.startswith("user "):
            user = line
            blocks[user] = []
        elif line.startswith("topic ") and user is not None:
            blocks[user].append(line)
    assert blocks["user gw-1"] == ["topic write campus/s1/gw-1/status",  # its own Last Will, for its devices
                                   "topic read campus/s1/gw-1/drill",  # a technical drill's request
                                   "topic write campus/s1/m1/reading", "topic write campus/s1/m1/status",
                                   "topic write campus/s1/m1/health"]
    assert blocks["user q1"] == ["topic write campus/s1/q1/reading", "topic write campus/s1/q1/status",
                                 "topic write campus/s1/q1/health"]
    assert "topic write campus/s1/alerts/#" in blocks["user mw-alerts"]
    for account in ("user mw-ingest", "user mw-alerts"):  # each answers drills, and hears the answers
        assert {"topic read campus/s1/drills/#", "topic write campus/s1/drills/#"} <= set(blocks[account])
    # ingest writes nothing but drills' answers; only the server's account (enters_readings) asks a gateway
    assert [line for line in blocks["user mw-ingest"] if line.startswith("topic write")] == [
        "topic write campus/s1/drills/#"]
    assert not any(line.endswith("/drill") for line in blocks["user mw-alerts"])
    assert "pattern" not in files.acl
    assert files.without_credentials == ("gw-2",)  # no credentials: not in passwd, no ACL lines
    assert files.users == {"mw-ingest", "mw-alerts", "gw-1", "q1"}
    assert "allow_anonymous false" in files.conf
    assert "listener 1883\nuse_username_as_clientid true" in files.conf


def test_unchanged_input_gives_unchanged_files(tmp_path: Path) -> None:
    campus = parse_campus(CAMPUS)
    args = (NO_TLS, campus, {"gw-1": mosquitto_hash("a")}, [ServiceAccount("mw-ingest", "x")], "campus", tmp_path)
    first = render(*args)
    write(first, tmp_path)
    again = render(*args, previous_passwd=(tmp_path / "passwd").read_text(encoding="utf-8"))
    assert again == first
    assert users_in(tmp_path / "passwd") == {"mw-ingest", "gw-1"}
    assert (tmp_path / "passwd").stat().st_mode & 0o777 == 0o640
    changed = render(NO_TLS, campus, {"gw-1": mosquitto_hash("a")}, [ServiceAccount("mw-ingest", "new")], "campus",
                     tmp_path, previous_passwd=(tmp_path / "passwd").read_text(encoding="utf-8"))
    assert changed.passwd != first.passwd  # a changed service password is hashed anew


@pytest.mark.parametrize(("broker", "accounts", "prefix", "error"), [
    (BrokerSettings(user=None), [], "campus", "needs certfile and keyfile"),
    (BrokerSettings(port=0, tls_port=0), [], "campus", "no listener"),
    (BrokerSettings(tls_port=8883, certfile=Path("s.crt"), keyfile=Path("s.key"), require_certificate=True), [],
     "campus", "needs cafile"),
    (NO_TLS, [ServiceAccount("gw-1", "x")], "campus", "id of a gateway or device"),
    (NO_TLS, [ServiceAccount("a", "x"), ServiceAccount("a", "y")], "campus", "same broker username"),
    (NO_TLS, [], "campus/#", "topic level"),
])
def test_deploy_mistakes_are_named(tmp_path: Path, broker: BrokerSettings, accounts: list[ServiceAccount],
                                   prefix: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        render(broker, parse_campus(CAMPUS), {}, accounts, prefix, tmp_path)


IDS = st.from_regex(r"[a-z][a-z0-9_.-]{0,11}", fullmatch=True)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(devices=st.dictionaries(IDS, st.one_of(st.none(), st.sampled_from(["gw-a", "gw-b", "gw-c"])), min_size=1,
                               max_size=30),
       issued=st.sets(st.sampled_from(["gw-a", "gw-b", "gw-c"])))
def test_the_acl_never_lets_a_publisher_write_anything_but_its_own_devices(devices: dict[str, str | None],
                                                                           issued: set[str]) -> None:
    devices = {d: g for d, g in devices.items() if not d.startswith("gw-")}
    doc = {"site": {"id": "s1", "name": "x"}, "buildings": [{"id": "b1", "name": "b", "department": "office"}],
           "devices": [{"id": d, "kind": "electricity", "building": "b1", **({"gateway": g} if g else {})}
                       for d, g in devices.items()]}
    campus = Campus.model_validate(doc)
    hashes = {who: "$7$101$x$y" for who in [*issued, *[d for d, g in devices.items() if g is None]]}
    files = render(NO_TLS, campus, hashes, [ServiceAccount("mw-ingest", "x")], "campus", Path("/tmp"))
    owner = {d: g or d for d, g in devices.items()}
    user = None
    for line in files.acl.splitlines():
        if line.startswith("user "):
            user = line.split()[1]
        elif line.startswith("topic write") and user == "mw-ingest":  # a service account: the drills' answers
            assert line == "topic write campus/s1/drills/#"
        elif line.startswith("topic write"):
            topic = line.split()[2]
            assert "+" not in topic
            assert "#" not in topic
            _, site, device, channel = topic.split("/")
            assert (site, channel in ("reading", "status", "health")) == ("s1", True)
            if device == user and device not in owner:  # a gateway's own topic: only its status (Last Will)
                assert channel == "status"
            else:
                assert owner[device] == user, line
        elif line.startswith("topic read"):  # a gateway hears its own drill requests, nothing else
            assert user == "mw-ingest" or (line == f"topic read campus/s1/{user}/drill" and user not in owner), line
    assert "pattern" not in files.acl
    assert {line.split(":", 1)[0] for line in files.passwd.splitlines()} == files.users
    assert files.users == {"mw-ingest"} | (set(hashes) & set(campus.publishers()))


DTU_CAMPUS = """
site: {id: s1, name: 测试校区}
buildings: [{id: b1, name: 一号楼, department: office}]
gateways:
  - id: gw-1
    buses: [{name: dtu-4, mqtt: {up: dtu/GW4/up, down: dtu/GW4/down}}]
devices:
  - {id: m1, kind: electricity, building: b1, gateway: gw-1,
     meter: {bus: dtu-4, protocol: dlt645, address: "000012345678"}}
"""


def test_a_dtu_carrying_a_bus_over_mqtt_has_its_own_account(tmp_path: Path) -> None:
    """The 4G DTU logs in as {gateway}.{bus}: it writes its up topic and reads its down topic, nothing else; the
    gateway reads up and writes down beside its devices' topics."""
    campus = parse_campus(DTU_CAMPUS)
    files = render(NO_TLS, campus, {"gw-1": mosquitto_hash("a"), "gw-1.dtu-4": mosquitto_hash("b")},
                   [ServiceAccount("mw-ingest", "x")], "campus", tmp_path)
    blocks: dict[str, list[str]] = {}
    for chunk in files.acl.split("\n\n"):
        lines = [line for line in chunk.splitlines() if not line.startswith("#")]
        if lines and lines[0].startswith("user "):
            blocks[lines[0]] = lines[1:]
    assert blocks["user gw-1.dtu-4"] == ["topic write dtu/GW4/up", "topic read dtu/GW4/down"]
    assert blocks["user gw-1"][-2:] == ["topic read dtu/GW4/up", "topic write dtu/GW4/down"]
    assert "gw-1.dtu-4" in files.users


def test_a_dtu_topic_under_meterwatchs_own_is_refused(tmp_path: Path) -> None:
    campus = parse_campus(DTU_CAMPUS.replace("dtu/GW4/up", "campus/s1/m9/reading"))
    with pytest.raises(ConfigError, match="lies under meterwatch's own topics"):
        render(NO_TLS, campus, {}, [ServiceAccount("mw-ingest", "x")], "campus", tmp_path)
