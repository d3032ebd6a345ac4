"""Series routes: list, read, observations (pagination, filters, bad input), registration."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from forecaster.config import Settings
from forecaster.db import series as series_db
from tests.api.conftest import AUTH, store_sample


def test_series_list_read_and_unknown_key(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    assert client.get("/api/v1/series").json() == {"data": [], "count": 0}
    assert client.get("/api/v1/series/nope").json() == {
        "detail": "unknown series 'nope'; no series are stored yet (GET /api/v1/series lists them)"
    }
    store_sample(session_factory, rows=30)

    listed = client.get("/api/v1/series").json()
    assert listed["count"] == 1
    one = client.get("/api/v1/series/seattle-weather")
    assert one.status_code == 200
    assert one.json() == listed["data"][0]
    assert one.json()["source"] == "csv"
    assert one.json()["first"] == "2012-01-01T00:00:00Z"
    assert one.json()["last"] == "2012-01-30T00:00:00Z"
    assert "tmax" in one.json()["variables"]

    missing = client.get("/api/v1/series/nope")
    assert missing.status_code == 404
    assert missing.json() == {
        "detail": "unknown series 'nope'; known series: seattle-weather (GET /api/v1/series lists them)"
    }


def test_observations_are_paginated_and_filtered(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    frame = store_sample(session_factory, rows=30)
    url = "/api/v1/series/seattle-weather/observations"
    page = client.get(url, params={"variables": "tmax,tmin", "limit": 25}).json()
    assert page["count"] == 60 and page["limit"] == 25 and page["offset"] == 0
    assert page["next_offset"] == 25 and page["next_cursor"] == "2012-01-13T00:00:00,tmax"
    assert page["data"][:2] == [
        {"ts": "2012-01-01T00:00:00Z", "variable": "tmax", "value": frame["tmax"].iloc[0]},
        {"ts": "2012-01-01T00:00:00Z", "variable": "tmin", "value": frame["tmin"].iloc[0]},
    ]
    last = client.get(url, params={"variables": ["tmax", "tmin"], "limit": 25, "offset": 50})
    assert len(last.json()["data"]) == 10 and last.json()["next_offset"] is None
    assert last.json()["next_cursor"] is None

    # cursor pages: the same rows, no count after the first page
    walked, cursor = page["data"], page["next_cursor"]
    while cursor is not None:
        nxt = client.get(url, params={"variables": "tmax,tmin", "limit": 25, "cursor": cursor})
        assert nxt.status_code == 200 and nxt.json()["count"] is None
        walked += nxt.json()["data"]
        cursor = nxt.json()["next_cursor"]
    every = client.get(url, params={"variables": "tmax,tmin", "limit": 100}).json()["data"]
    assert walked == every and len(every) == 60
    # a bare timestamp as the cursor: rows after it
    after = client.get(url, params={"variables": "tmax", "cursor": "2012-01-28"}).json()
    assert [r["ts"][:10] for r in after["data"]] == ["2012-01-29", "2012-01-30"]

    ranged = client.get(
        url,
        params={"variables": "tmax", "start": "2012-01-10", "end": "2012-01-12T00:00:00Z"},
    ).json()
    assert [r["ts"][:10] for r in ranged["data"]] == ["2012-01-10", "2012-01-11", "2012-01-12"]
    # a gap the source reported comes back as null, not dropped
    tavg = client.get(url, params={"variables": "tavg", "limit": 1}).json()
    assert tavg["data"][0]["value"] is None and tavg["count"] == 30


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        # the page size is bounded, and the error says the bound
        (
            {"limit": 10001},
            "query parameter 'limit': Input should be less than or equal to 10000 (got '10001')",
        ),
        (
            {"offset": -1},
            "query parameter 'offset': Input should be greater than or equal to 0 (got '-1')",
        ),
        # offset paging is bounded: deep pages take the cursor
        (
            {"offset": 50001},
            "query parameter 'offset': Input should be less than or equal to 50000 (got '50001')",
        ),
        (
            {"cursor": "yesterday"},
            "query parameter 'cursor': 'yesterday' is not a page's next_cursor nor a timestamp "
            "in 1677-09-22 .. 2262-04-11 (UTC) (Invalid isoformat string: 'yesterday')",
        ),
        (
            {"cursor": "2012-01-02", "offset": 5},
            "give cursor or offset, not both (cursor is the one to prefer)",
        ),
        # a date an offset pushes before year 1 (was a 500: OverflowError)
        (
            {"end": "0001-01-01T00:00:00+05:00"},
            "query parameter 'end': 0001-01-01T00:00:00+05:00 is outside the valid range "
            "1677-09-22 .. 2262-04-11 (UTC) (got '0001-01-01T00:00:00+05:00')",
        ),
        (
            {"start": "9999-12-31T23:59:59-05:00"},
            "query parameter 'start': 9999-12-31T23:59:59-05:00 is outside the valid range "
            "1677-09-22 .. 2262-04-11 (UTC) (got '9999-12-31T23:59:59-05:00')",
        ),
        # not a date
        (
            {"start": "2012-13-01"},
            "query parameter 'start': Input should be a valid datetime or date, "
            "month value is outside expected range of 1-12 (got '2012-13-01')",
        ),
        # a range that ends before it starts
        (
            {"start": "2012-02-01", "end": "2012-01-01"},
            "start=2012-02-01 is after end=2012-01-01; give start <= end",
        ),
        # a variable the series does not have
        (
            {"variables": "tmax,snowfall"},
            "unknown variable(s) 'snowfall' for series 'seattle-weather'; its variables are: "
            "prcp, pres, snow, tavg, tmax, tmin, tsun, wdir, wpgt, wspd",
        ),
    ],
)
def test_bad_observation_queries_are_422_saying_what_is_valid(
    client: TestClient, session_factory: sessionmaker[Session], params: dict[str, Any], detail: str
) -> None:
    store_sample(session_factory, rows=5)
    r = client.get("/api/v1/series/seattle-weather/observations", params=params)
    assert r.status_code == 422
    assert r.json() == {"detail": detail}


def test_register_series_of_each_source(client: TestClient) -> None:
    created = client.post(
        "/api/v1/series", json={"key": "AAPL", "source": "yahoo", "ticker": "aapl"}, headers=AUTH
    )
    assert created.status_code == 201
    assert created.json() == {
        "key": "AAPL",
        "source": "yahoo",
        "params": {"ticker": "AAPL"},
        "frequency": "B",
        "timezone": "America/New_York",
        "variables": [],
        "first": None,
        "last": None,
        "timestamps": 0,
        "values": 0,
    }
    station = client.post(
        "/api/v1/series",
        json={"key": "boston-weather", "source": "meteostat", "station": "72509"},
        headers=AUTH,
    )
    assert station.status_code == 201
    assert station.json()["params"] == {"station": "72509"}
    assert station.json()["frequency"] == "D"
    point = client.post(
        "/api/v1/series",
        json={"key": "sea", "source": "meteostat", "lat": 47.61, "lon": -122.33},
        headers=AUTH,
    )
    assert point.json()["params"] == {"lat": 47.61, "lon": -122.33}
    sample = client.post(
        "/api/v1/series", json={"key": "ibm", "source": "csv", "sample": "IBM"}, headers=AUTH
    )
    assert sample.json()["params"] == {"sample": "IBM.csv"}
    keys = [s["key"] for s in client.get("/api/v1/series").json()["data"]]
    assert keys == ["AAPL", "boston-weather", "ibm", "sea"]

    again = client.post(
        "/api/v1/series", json={"key": "AAPL", "source": "yahoo", "ticker": "MSFT"}, headers=AUTH
    )
    assert again.status_code == 409
    assert again.json() == {
        "detail": "series 'AAPL' already exists (source yahoo, params {'ticker': 'AAPL'}); pick "
        'another key, or update its data with POST /api/v1/runs {"kind": "ingest", "series": ["AAPL"]}'
    }


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        # key is required
        ({"source": "yahoo", "ticker": "AAPL"}, "body field 'key': required"),
        # a key with characters a URL path would mangle
        (
            {"key": "a b", "source": "yahoo", "ticker": "AAPL"},
            "body field 'key': String should match pattern '^[A-Za-z0-9._^=-]+$' (got 'a b')",
        ),
        (
            {"key": "x", "source": "quandl"},
            "body field 'source': 'quandl' is not one of 'yahoo', 'meteostat', 'csv'",
        ),
        ({"key": "x", "ticker": "AAPL"}, "body field 'source': required"),
        ({"key": "x", "source": "yahoo"}, "body field 'ticker': required"),
        (
            {"key": "x", "source": "meteostat"},
            "request body: a meteostat series needs station (e.g. 72509) or both lat and lon",
        ),
        (
            {"key": "x", "source": "meteostat", "station": "72509", "lat": 1, "lon": 2},
            "request body: give either station or lat and lon, not both",
        ),
        (
            {"key": "x", "source": "meteostat", "lat": 91, "lon": 0},
            "body field 'lat': Input should be less than or equal to 90 (got 91)",
        ),
        (
            {"key": "x", "source": "csv", "sample": "MSFT"},
            "unknown sample 'MSFT': bundled samples are AAPL, IBM, seattle-weather",
        ),
        # a typo'd field is named, not silently ignored
        (
            {"key": "x", "source": "yahoo", "tickr": "AAPL"},
            "body field 'ticker': required; body field 'tickr': Extra inputs are not permitted (got 'AAPL')",
        ),
    ],
)
def test_bad_registrations_are_422_saying_what_is_valid(
    client: TestClient, body: dict[str, Any], detail: str
) -> None:
    r = client.post("/api/v1/series", json=body, headers=AUTH)
    assert r.status_code == 422
    assert r.json() == {"detail": detail}
    assert client.get("/api/v1/series").json()["count"] == 0


def test_malformed_json_body_is_422(client: TestClient) -> None:
    r = client.post(
        "/api/v1/series",
        content="{bad",
        headers={**AUTH, "content-type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json() == {
        "detail": "request body is not valid JSON: Expecting property name enclosed in double quotes"
    }


# Inputs that reach the database: each must come back as a 4xx saying why, never a 500.
HOSTILE_GETS = [
    "/api/v1/series/%00",  # PostgreSQL text cannot hold NUL
    "/api/v1/series/a%00b/observations",
    "/api/v1/forecasts/%00",
    "/api/v1/models?series=%00",
    "/api/v1/runs/99999999999999999999",  # past a 32-bit id
    "/api/v1/models/99999999999999999999",
    "/api/v1/models/0",
    "/api/v1/forecasts/x?model=99999999999999999999",
    "/api/v1/forecasts/x?model=-3",
    "/api/v1/series/x/observations?offset=99999999999999999999",
    "/api/v1/forecasts/x?level=nan",
    "/api/v1/series/" + "x" * 500,
]


def test_hostile_input_is_never_a_500(settings: Settings) -> None:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        for path in HOSTILE_GETS:
            r = client.get(path)
            assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
            assert r.json()["detail"], path
        runs: list[dict[str, Any]] = [
            {"kind": "ingest", "series": ["\x00"]},
            {"kind": "retrain", "series": ["a" * 1000]},
        ]
        for body in runs:
            r = client.post("/api/v1/runs", json=body, headers=AUTH)
            assert 400 <= r.status_code < 500, (body, r.status_code, r.text)
        for body in (
            {"key": "k", "source": "yahoo", "ticker": "A\x00"},
            {"key": "k", "source": "meteostat", "station": "7\x00"},
            {"key": "k\x00", "source": "yahoo", "ticker": "A"},
        ):
            r = client.post("/api/v1/series", json=body, headers=AUTH)
            assert r.status_code == 422, (body, r.text)
        assert (
            client.post("/api/v1/models/99999999999999999999/promote", headers=AUTH).status_code
            == 422
        )


def test_out_of_range_timestamps_are_a_422_and_paths_are_not_shown(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    store_sample(session_factory, rows=5)
    url = "/api/v1/series/seattle-weather/observations"
    for bound in ("start", "end"):
        r = client.get(url, params={bound: "0001-01-01T00:00:00+05:00"})
        assert r.status_code == 422, r.text
        assert "outside the valid range" in r.json()["detail"]
    with session_factory.begin() as session:
        series_db.register_series(
            session=session,
            key="mine",
            source="csv",
            params={"path": "/srv/secret/uploads/mine.csv"},
        )
    listed = {s["key"]: s for s in client.get("/api/v1/series").json()["data"]}
    assert "/srv/secret" not in str(listed["mine"]["params"])
    assert "/srv/secret" not in str(client.get("/api/v1/series/mine").json()["params"])
