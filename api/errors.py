"""Errors as JSON {"detail": message}: domain errors by class, FastAPI's validation made readable,
and a database that cannot be reached as a 503 with Retry-After (an outage is a state, not a crash)."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from forecaster.errors import (
    BadModelRef,
    Conflict,
    ForecasterError,
    InvalidRequest,
    LevelOutOfRange,
    NoChampion,
    NotFound,
    Overloaded,
    SeriesExists,
    SourceError,
    TooBusy,
    Unavailable,
    UnknownModel,
    UnknownRun,
    UnknownSeries,
    echo,
)

logger = logging.getLogger(__name__)

# Most specific first: NoChampion is a Conflict, SourceUnavailable a SourceError.
STATUS_OF: tuple[tuple[type[ForecasterError], int], ...] = (
    (NotFound, 404),
    (Conflict, 409),
    (InvalidRequest, 422),
    (SourceError, 502),
    (TooBusy, 429),
    (Unavailable, 503),
    (Overloaded, 503),
)

DB_RETRY_AFTER_S = 5  # what a client is told to wait while the database is unreachable
DB_UNAVAILABLE = (
    "the database is unavailable right now (restarting, or an outage); "
    f"retry in {DB_RETRY_AFTER_S} seconds"
)

_WHERE = {"query": "query parameter", "path": "path parameter", "header": "header"}


def status_of(exc: ForecasterError) -> int:
    for cls, status in STATUS_OF:
        if isinstance(exc, cls):
            return status
    return 400


def http_hint(exc: ForecasterError) -> str | None:
    """The route that helps past a domain error (its text names none); None: no hint."""
    match exc:
        case UnknownSeries():
            return "GET /api/v1/series lists them"
        case UnknownModel(series_key=str(key)):
            return f"GET /api/v1/models?series={key} lists this series' versions"
        case UnknownModel():
            return "GET /api/v1/models lists the versions"
        case UnknownRun():
            return "GET /api/v1/runs lists recent runs"
        case BadModelRef():
            return "`forecaster models` or GET /api/v1/models lists them"
        case NoChampion(series_key=key, strategy=strategy):
            return (
                f"train one with `forecaster train {key} --strategy {strategy}` or "
                f'POST /api/v1/runs {{"kind": "retrain", "series": ["{key}"]}}'
            )
        case SeriesExists(key=key):
            return (
                f'update its data with POST /api/v1/runs {{"kind": "ingest", "series": ["{key}"]}}'
            )
    return None


def describe_validation(errors: Sequence[Any]) -> str:
    """One readable line per problem: where, what was wrong, the value given."""
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in _WHERE:
            where = f"{_WHERE[loc[0]]} {'.'.join(loc[1:])!r}"
        elif loc and loc[0] == "body":
            # a discriminated union puts the tag in the path: body.yahoo.ticker -> ticker
            fields = [p for p in loc[1:] if p not in ("yahoo", "meteostat", "csv")]
            where = f"body field {'.'.join(fields)!r}" if fields else "request body"
        else:
            where = ".".join(loc) or "request"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        given = err.get("input")
        kind, ctx = err.get("type"), err.get("ctx") or {}
        if kind == "json_invalid":
            parts.append(f"request body is not valid JSON: {ctx.get('error', msg)}")
        elif kind == "union_tag_invalid":
            parts.append(
                f"body field {ctx['discriminator']}: {ctx['tag']!r} is not one of {ctx['expected_tags']}"
            )
        elif kind == "union_tag_not_found":
            parts.append(f"body field {ctx['discriminator']}: required")
        elif kind in ("model_attributes_type", "dict_type") and where == "request body":
            parts.append("request body: must be a JSON object (see /docs for its fields)")
        elif kind == "missing":
            parts.append(f"{where}: required")
        elif loc[:2] == ["query", "level"] and kind in ("greater_than", "less_than"):
            # the interval level's bounds, worded as the CLI and the domain word them (checks.py)
            parts.append(f"{where}: {LevelOutOfRange(level=float(given)).text()}")
        elif given is None or isinstance(given, dict | list):
            parts.append(f"{where}: {msg}")
        else:
            parts.append(f"{where}: {msg} (got {echo(given)})")
    return "; ".join(parts)


async def _forecaster_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ForecasterError)
    retry = exc.retry_after if isinstance(exc, Overloaded | Unavailable) else None
    headers = {"Retry-After": str(retry)} if retry is not None else None
    detail = exc.render(http_hint(exc))
    return JSONResponse({"detail": detail}, status_code=status_of(exc), headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": describe_validation(exc.errors())}, status_code=422)


def _allowed(request: Request) -> str:
    """Every method the path takes, as the OpenAPI document lists them (Starlette's own Allow
    names only the first matching route's)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            methods |= {m.upper() for m in operations}
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail, headers = exc.detail, exc.headers
    if exc.status_code == 404 and detail == "Not Found":
        detail = "no such route; the API lives under /api/v1 (see /docs)"
    elif exc.status_code == 405:
        allow = _allowed(request)
        detail = f"method not allowed here; this path takes {allow} (see /docs)"
        headers = {**(headers or {}), "Allow": allow}
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)


async def _data_error(_request: Request, exc: Exception) -> JSONResponse:
    """A value the database cannot hold (a NUL character, a number out of range): bad input."""
    assert isinstance(exc, DataError)
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else "invalid value"
    return JSONResponse(
        {"detail": f"the database rejected a value in this request: {reason}"}, status_code=422
    )


async def _integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    """A concurrent change won the race (e.g. two promotions of one series at once)."""
    logger.warning("integrity error: %s", exc)
    return JSONResponse(
        {"detail": "a concurrent change to the same data won the race; read it again and retry"},
        status_code=409,
    )


class OutageLog:
    """Logs a database outage once, when it starts, instead of a traceback per request.

    An outage ends after `quiet_s` with no database error; the next error starts a new one.
    """

    def __init__(self, quiet_s: float = 30.0) -> None:
        self.quiet_s = quiet_s
        self._last: float | None = None
        self._lock = threading.Lock()
        self.outages = 0

    def seen(self, exc: Exception) -> None:
        now = time.monotonic()
        with self._lock:
            new = self._last is None or now - self._last > self.quiet_s
            self._last = now
            if new:
                self.outages += 1
        if new:
            orig = getattr(exc, "orig", None) or exc
            reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
            logger.warning(
                "database unavailable, answering 503 until it is back: %s: %s",
                type(orig).__name__,
                reason[:200],
            )


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database cannot be reached (stopped, restarting, the network, SQLite's write lock):
    a 503 the client may retry, not a 500 and a traceback."""
    request.app.state.outage_log.seen(exc)
    return JSONResponse(
        {"detail": DB_UNAVAILABLE},
        status_code=503,
        headers={"Retry-After": str(DB_RETRY_AFTER_S)},
    )


def install(app: FastAPI) -> None:
    """One handler for the domain hierarchy, one for validation, one for routing errors, one
    for a database out of reach."""
    app.state.outage_log = OutageLog()
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(InterfaceError, _database_unavailable)
    app.add_exception_handler(ForecasterError, _forecaster_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
