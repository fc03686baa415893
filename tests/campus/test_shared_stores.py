"""The shared state's stores (registry, tokens, broker credentials) on both backends: meterwatch.db and a real
PostgreSQL. Two store objects on one place stand for two hosts: what one writes, the other reads; what both
write at once is written once."""

from __future__ import annotations

import threading

import pytest

from api.tokens import Role, TokenStore
from campus.db import Place
from campus.errors import AlreadyExists, NotFound
from campus.model import Device, load_campus
from campus.registry import Registry
from deploy.credentials import Credentials
from tests.support.paths import SAMPLE


def test_a_token_made_on_one_host_works_on_the_other(shared_state: Place) -> None:
    one, other = TokenStore(shared_state), TokenStore(shared_state)
    try:
        token = one.create("王师傅", Role.ELECTRICIAN)
        who = other.check(token)
        assert who is not None
        assert (who.name, who.role) == ("王师傅", Role.ELECTRICIAN)
        assert [t.name for t in other.list()] == ["王师傅"]
        assert other.list()[0].last_used_ms is not None  # the use is recorded where both read it
        other.revoke("王师傅")
        assert one.check(token) is None
        with pytest.raises(NotFound):
            one.revoke("王师傅")
    finally:
        one.close()
        other.close()


def test_one_name_one_token_when_two_hosts_make_it_at_once(shared_state: Place) -> None:
    stores = [TokenStore(shared_state) for _ in range(4)]
    made: list[str] = []
    refused: list[Exception] = []
    start = threading.Barrier(len(stores))

    def make(store: TokenStore) -> None:
        start.wait(10)
        try:
            made.append(store.create("bureau-upload", Role.VIEWER))
        except Exception as exc:  # noqa: BLE001 - an AlreadyExists is expected; anything else fails below
            refused.append(exc)

    threads = [threading.Thread(target=make, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        assert (len(made), len(refused)) == (1, 3), refused
        assert all(isinstance(e, AlreadyExists) for e in refused), refused
        assert stores[0].check(made[0]) is not None
    finally:
        for s in stores:
            s.close()


def test_broker_credentials_are_one_list_for_every_host(shared_state: Place) -> None:
    one, other = Credentials(shared_state), Credentials(shared_state)
    try:
        one.issue("gw-library")
        with pytest.raises(AlreadyExists):
            other.issue("gw-library")
        before = other.active()["gw-library"]
        other.rotate("gw-library")
        assert one.active()["gw-library"] != before
        one.revoke("gw-library")
        assert other.active() == {}
        assert [(c.id, c.active) for c in other.list()] == [("gw-library", False)]
    finally:
        one.close()
        other.close()


def test_a_device_added_on_one_host_is_known_to_the_other(shared_state: Place) -> None:
    one, other = Registry(shared_state), Registry(shared_state)
    try:
        one.seed(load_campus(SAMPLE))
        assert other.campus.site.id == one.campus.site.id
        one.add_device(Device(id="lib-water-9", kind="water", building="dorm-1"))  # type: ignore[arg-type]
        other._refresh(force=True)  # another host looks again within a second; here at once
        assert other.device("lib-water-9").building == "dorm-1"
        assert other.tags(one.campus.site.id, "lib-water-9") is not None
    finally:
        one.close()
        other.close()
