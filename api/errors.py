"""Domain errors become HTTP statuses here, in one table that ``create_app`` registers once (as httpx maps
httpcore's exceptions to its own). Routers raise the domain's errors and never catch them to re-raise an
HTTPException. A class not in the table is looked up by its bases: ``Invalid`` is a ``ConfigError`` but
answers 422, while a ``ConfigError`` that reaches a request (a broken rule file, no campus loaded) is the
service's fault: 503."""

from __future__ import annotations

import math
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from alerts.book import AlertStateError
from alerts.runs import StepRefused
from api.access import AmbiguousSite, SharedDeviceId
from campus.errors import AlreadyExists, ConfigError, Invalid, NotFound, StateUnavailable, StoreUnavailable
from emergency.target import PlanRefused
from records.context import RecordRefused
from records.manual import JumpToConfirm
from records.photos import FileRejected


def _said(exc: Exception) -> str:
    return str(exc)


def _too_deep(exc: Exception) -> str:
    return "the body is nested too deeply to read: send JSON with at most a few hundred levels"


def _store_down(exc: Exception) -> str:
    return f"time-series store unavailable, try again shortly: {exc}"


def _state_down(exc: Exception) -> str:
    return f"the state database is unavailable, nothing was changed; try again shortly: {exc}"


# error → (status, what the answer's detail says)
STATUSES: dict[type[Exception], tuple[int, Callable[[Exception], str]]] = {
    NotFound: (404, _said),                # outside the token's scope too: what it may not see does not exist
    AlreadyExists: (409, _said),           # an id or a name in use; a change that conflicts with others
    AlertStateError: (409, _said),         # an alert step out of order (acknowledging a resolved alert)
    JumpToConfirm: (409, _said),           # a reading by hand past the rated capacity: send it again with confirm
    SharedDeviceId: (409, _said),          # a device id in several sites, asked for without one
    AmbiguousSite: (422, _said),           # several sites and none named
    Invalid: (422, _said),                 # a change or a scope naming what the campus does not have
    RecordRefused: (422, _said),           # a record that cannot be taken as sent
    PlanRefused: (422, _said),             # a drill, or a plan started by hand, that cannot start as asked
    StepRefused: (409, _said),             # a plan's step ticked twice
    FileRejected: (422, _said),            # a photo or PDF that is not what it says
    RecursionError: (400, _too_deep),      # JSON nested past the parser's recursion limit (as a body or a field)
    StoreUnavailable: (503, _store_down),  # try again shortly
    StateUnavailable: (503, _state_down),  # the shared state's PostgreSQL is away: try again shortly
    ConfigError: (503, _said),             # the service's configuration, not the request
}


def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 for a body, query or path that does not validate, as its own handler answers it, except that
    a body that was not JSON (multipart, text, any bytes sent to a JSON route) is described, not echoed: FastAPI's
    handler fails with 500 on bytes that are not UTF-8."""
    errors = []
    for error in exc.errors() if isinstance(exc, RequestValidationError) else ():
        said = error.get("input")
        if isinstance(said, bytes | bytearray):
            error = {**error, "input": f"{len(said)} bytes that are not a JSON body: send Content-Type: "
                                       f"application/json"}
        elif "input" in error:  # NaN or Infinity sent as a JSON literal (Python's parser takes them): as text
            error = {**error, "input": _finite(said)}
        errors.append(error)
    return JSONResponse({"detail": _finite(jsonable_encoder(errors))}, status_code=422)


def _finite(x: object) -> object:
    """``x`` with NaN and ±Infinity (which Python's JSON parser takes, but no JSON answer may hold) said in words."""
    if isinstance(x, float) and not math.isfinite(x):
        return f"{x} (not a number JSON allows)"
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    return x


def install(app: FastAPI) -> None:
    """Answer each error of the table with its status and ``{"detail": ...}``, and a request that does not
    validate with 422 (:func:`_invalid_request`)."""
    app.add_exception_handler(RequestValidationError, _invalid_request)
    for error, (status, detail) in STATUSES.items():
        def handler(request: Request, exc: Exception, status: int = status,
                    detail: Callable[[Exception], str] = detail) -> JSONResponse:
            return JSONResponse({"detail": detail(exc)}, status_code=status)

        app.add_exception_handler(error, handler)
