"""Every input the API refuses is a 4xx, never a 500: hostile values into every GET route's
path and query parameters (and the optional X-API-Key header), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from forecaster.config import Settings

HOSTILE = [
    "99999999999999999999",  # past every integer type
    "-99999999999999999999",
    "-1",
    "0",
    "1e309",  # a float that overflows to inf
    "inf",
    "-inf",
    "nan",
    "0001-01-01T00:00:00+05:00",  # an offset pushes it before year 1
    "9999-12-31T23:59:59-14:00",  # ... or past 9999
    "0001-01-01",
    "2262-04-12",  # just past pandas' range
    "x" * 5000,  # long
    "ünïcødé-😀-日本",  # unicode
    "\x00nul",  # PostgreSQL refuses NUL in text
    "'; DROP TABLE series; --",
    "../../../etc/passwd",
    "",
    " ",
    "2012-01-01,tmax",  # cursor-shaped
    "2012-01-01,\x00",
    "champion",
    "sideways",  # a bad enum value
    "true",
]


@pytest.fixture
def hostile_client(settings: Settings, trained: dict[str, int]) -> Iterator[TestClient]:
    assert trained  # stored before the app starts: champions load, forecasts compute
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def _get_routes(client: TestClient) -> list[tuple[str, list[str], list[str]]]:
    """(path, path parameter names, query parameter names) of every GET route in the OpenAPI
    document, and the dashboard's (outside it)."""
    spec = client.get("/openapi.json").json()
    routes = []
    for path, methods in spec["paths"].items():
        if "get" not in methods:
            continue
        params = methods["get"].get("parameters", [])
        routes.append(
            (
                path,
                [p["name"] for p in params if p["in"] == "path"],
                [p["name"] for p in params if p["in"] == "query"],
            )
        )
    routes += [("/", [], ["series", "window"]), ("/vendor/plotly.min.js", [], ["v"])]
    assert len(routes) >= 12, routes  # the API's reads, /health, /metrics, the dashboard
    return routes


def _path(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    return path


def test_hostile_inputs_to_every_get_route_are_never_a_server_error(
    hostile_client: TestClient, trained: dict[str, int]
) -> None:
    c = hostile_client
    valid = {
        "series_key": "seattle-weather",
        "version_id": str(trained["gru-recursive"]),
        "run_id": "1",
    }
    failures: list[str] = []
    tried = 0

    def check(url: str, params: dict[str, str] | None = None, **kw: object) -> None:
        nonlocal tried
        tried += 1
        r = c.get(url, params=params, **kw)  # type: ignore[arg-type]
        if r.status_code >= 500:
            failures.append(f"{r.status_code} GET {url[:80]} {str(params)[:120]}: {r.text[:200]}")

    for path, path_names, query_names in _get_routes(c):
        base = {n: valid[n] for n in path_names}
        for name in path_names:
            for value in HOSTILE:
                if value.strip("/. ") == "" or value.startswith("../"):
                    continue  # another route (or none), not this parameter
                check(_path(path, {**base, name: value}))
        for name in query_names:
            for value in HOSTILE:
                check(_path(path, base), {name: value})
        if query_names:  # every query parameter hostile at once
            for value in HOSTILE[:12]:
                check(_path(path, base), dict.fromkeys(query_names, value))
        for key in ("x" * 5000, "wrong", ""):
            check(_path(path, base), headers={"X-API-Key": key})
    assert tried > 500
    assert not failures, "\n".join(failures)


def test_a_long_refused_value_is_not_echoed_in_full(client: TestClient) -> None:
    r = client.get("/api/v1/series/" + "k" * 5000)
    assert r.status_code == 422
    assert r.json() == {
        "detail": "path parameter 'series_key': String should have at most 100 characters "
        f"(got '{'k' * 119}... (5000 characters))"
    }
