"""The HTTP API fuzzed from its own OpenAPI schema with schemathesis: every route and its documented parameters,
with an admin token, over a real service holding a simulated morning and an alert. Any 5xx fails.

Schemathesis generates the requests (its strategies per operation); they are sent with Starlette's TestClient,
because schemathesis's own requests transport fails against the urllib3 installed here.

Runs in process through ASGI (no sockets); the app's lifespan is entered once by a TestClient so that the
token store is open, as under uvicorn."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import urlencode

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, reject, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from app.samples import sample_billing, sample_plans
from tests.support.drive import inbound, local, simulation
from tests.support.harness import token_headers
from tests.support.paths import SAMPLE
from tests.support.stack import Stack


@pytest.fixture(scope="module")
def app(app_stack: Callable[..., Stack]) -> Iterator[FastAPI]:
    pubs = inbound(simulation(local(2026, 3, 10, 6), 4, ["ph_excursion:ta-fountain"]).publications())
    stack = app_stack(SAMPLE, pubs, name="schema-fuzz", report={"refresh_s": 0}, billing={"file": sample_billing()},
                      records={"plans_file": sample_plans()})
    application = stack.app()
    application.state.admin = token_headers(stack.data)
    with TestClient(application):  # the lifespan: opens the token store
        yield application


EXAMPLES = 40  # per operation and mode
MAX_URL = 60_000  # httpx's limit on a URL component is 65,536 characters


def test_no_route_answers_5xx(app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    statuses: dict[int, int] = {}
    calls: dict[str, int] = {}
    client = TestClient(app)  # schemathesis's own transport does not work with the installed urllib3
    for operation, mode in [(op, mode) for op in operations for mode in GenerationMode]:  # valid and invalid input

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(operation.as_strategy(mode))
        def call(case: schemathesis.Case) -> None:
            label = f"{case.method.upper()} {case.path}"
            calls[label] = calls.get(label, 0) + 1
            kw = case.as_transport_kwargs(base_url="http://testserver", headers=app.state.admin)
            body = {"json": kw["json"]} if "json" in kw else {"content": kw["data"]} if kw.get("data") else {}
            if len(kw["url"]) + len(urlencode(kw.get("params") or {}, doseq=True)) > MAX_URL:
                reject()  # a URL no HTTP client sends (httpx refuses past 64 KiB): nothing reaches the server
            # a header value past ASCII goes as its UTF-8 bytes, as a client that sends raw bytes would (httpx
            # refuses a str it cannot encode in ASCII, which says nothing about the server)
            headers = {name: value.encode("utf-8") if isinstance(value, str) else value
                       for name, value in (kw.get("headers") or {}).items()}
            response = client.request(kw["method"], kw["url"], params=kw.get("params"), headers=headers, **body)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code < 500, (f"{label} path={case.path_parameters} query={case.query} body="
                                                 f"{case.body!r:.200}: {response.status_code} {response.text[:300]}")

        try:
            call()
        except Unsatisfiable:  # nothing to make invalid: an operation without parameters or body
            assert mode is GenerationMode.NEGATIVE
    print(f"\nschemathesis: {sum(calls.values())} requests over {len(operations)} operations, valid and invalid "
          f"input; answers {dict(sorted(statuses.items()))}")
