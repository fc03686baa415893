"""``meterwatch state migrate``: an old data directory (tests/fixtures/datadir-631a7fe, written by that release)
copied into a real PostgreSQL with nothing lost, counts and SHA-256 the same on both sides, and safe to run again;
what it copied then works there: the old tokens authenticate, the registry is the same, new ids follow the old."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from alerts.store import AlertStore
from api.tokens import Role, TokenStore
from campus.db import DataDir
from campus.registry import Registry
from cli.main import main
from deploy.credentials import Credentials

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "datadir-631a7fe"
EXPECTED: dict[str, Any] = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture
def old(tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(FIXTURE, copy, copy_function=shutil.copyfile)
    return copy


def _table(out: str) -> dict[str, tuple[int, int, bool]]:
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 5 and "." in parts[0] and parts[1].isdigit():
            rows[parts[0]] = (int(parts[1]), int(parts[2]), "✓" in parts)
    return rows


def test_an_old_data_directory_moves_with_nothing_lost_and_again_safely(
        old: Path, state_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METERWATCH_STATE__URL", state_url)  # the url (with its password) from the environment
    assert main(["state", "migrate", "--from", str(old)]) == 0
    first = capsys.readouterr().out
    table = _table(first)
    assert table["tokens.tokens"] == (len(EXPECTED["tokens"]), len(EXPECTED["tokens"]), True)
    assert table["registry.sites"][0] == 1
    assert table["alerts.alerts"][0] == len(EXPECTED["alerts"])
    assert table["alerts.alert_events"][0] == sum(map(len, EXPECTED["alert_events"].values()))
    assert table["alerts.outbox"][0] == sum(map(len, EXPECTED["notices"].values()))
    assert table["alerts.engine_rule_state"][0] == 167
    assert all(same for _, _, same in table.values()), first
    assert state_url.split(":")[2].split("@")[0] not in first  # the password is never printed
    assert main(["state", "migrate", "--from", str(old)]) == 0  # again: the same rows, none doubled
    again = capsys.readouterr().out
    assert _table(again) == table
    assert again.count("(there already)") == sum(1 for rows, _, _ in table.values() if rows)  # empty: copied again

    shared = DataDir(old, state_url).shared
    tokens = TokenStore(shared)
    here, there = Registry(DataDir(old).state), Registry(shared)
    credentials, before = Credentials(shared), Credentials(DataDir(old).state)
    alerts_here, alerts_there = AlertStore(DataDir(old).alerts), AlertStore(DataDir(old, state_url).shared_alerts)
    try:
        assert alerts_there.query() == alerts_here.query()
        assert [alerts_there.events(a.id) for a in alerts_here.query()] == \
            [alerts_here.events(a.id) for a in alerts_here.query()]
        assert alerts_there.load_engine("yucai") == alerts_here.load_engine("yucai")
        # an acknowledge link sent before the move still verifies: the server signs with the same key
        assert alerts_there.meta("ack_link_key") == (old / "alerts.key").read_text().strip()
        for t in EXPECTED["tokens"]:
            who = tokens.check(t["token"])
            assert who is not None
            assert (who.name, who.role.value) == (t["name"], t["role"])
        new = tokens.create("新来的", Role.VIEWER)  # its id follows the copied ones
        assert max(t.id for t in tokens.list()) == tokens.list()[-1].id
        assert tokens.check(new) is not None
        assert there.campuses == here.campuses
        assert credentials.list() == before.list()
        # changed on the server since (a token revoked): a copy run again refuses, and brings nothing back
        tokens.revoke(EXPECTED["tokens"][0]["name"])
        assert main(["state", "migrate", "--from", str(old)]) != 0
        assert "tokens: table tokens on the server holds" in capsys.readouterr().err
        assert tokens.check(EXPECTED["tokens"][0]["token"]) is None
    finally:
        alerts_here.close()
        alerts_there.close()
        before.close()
        tokens.close()
        here.close()
        there.close()
        credentials.close()


def test_it_says_what_to_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METERWATCH_STATE__URL", raising=False)
    assert main(["state", "migrate", "--from", str(tmp_path)]) != 0
    assert "--to postgresql://" in capsys.readouterr().err
    assert main(["state", "migrate", "--from", str(tmp_path), "--to", "mysql://x@y/z"]) != 0
    assert "postgresql://" in capsys.readouterr().err
    assert main(["state", "migrate", "--from", str(tmp_path), "--to", "postgresql://u@127.0.0.1:1/db"]) != 0
    assert "no meterwatch.db" in capsys.readouterr().err
