"""GET /people and GET /terms: what the console names people by and offers terms from. A site's roster gives names
only (no email or phone); a token scoped to one site gets 404 for another's, as for every route."""

from __future__ import annotations

from pathlib import Path

from api.access import Scope
from api.tokens import TokenStore
from campus.db import DataDir
from tests.support.alertapp import alert_app
from tests.support.district import district_dir


def test_people_and_terms_answer_for_the_sites_a_token_sees(tmp_path: Path) -> None:
    with alert_app(tmp_path / "data", [], campus=district_dir(tmp_path)) as (c, _):
        store = TokenStore(DataDir(tmp_path / "data").state)
        try:
            yucai = {"Authorization": f"Bearer {store.create('li', 'viewer', Scope.of(['yucai'], [], []))}"}
        finally:
            store.close()
        people = c.get("/api/v1/people", params={"site": "yucai"}, headers=yucai)
        assert people.status_code == 200
        assert {"id": "li", "name": "李强"} in people.json()
        assert all(set(p) == {"id", "name"} for p in people.json())  # no email, phone or channels
        terms = c.get("/api/v1/terms", params={"site": "yucai"}, headers=yucai)
        assert terms.status_code == 200
        assert terms.json()[0] == {"name": "2025秋季学期", "start": "2025-09-01", "end": "2026-01-23"}
        for route in ("/api/v1/people", "/api/v1/terms"):
            assert c.get(route, params={"site": "mingde"}, headers=yucai).status_code == 404
            assert c.get(route, params={"site": "mingde"}).status_code == 200  # the unscoped admin sees both
            assert c.get(route, headers={"Authorization": "Bearer mw_nope"}).status_code == 401
