"""A database outage is a state, not a crash: every route answers 503 with Retry-After and a JSON
body while PostgreSQL is down, the outage is logged once, and the app recovers by itself.

A throwaway cluster of its own (the session's cluster serves the other tests) is stopped mid-use
(`pg_ctl -m fast`: every connection drops, as in a restart) and started again.
"""

from __future__ import annotations

import logging
import time

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from api.main import create_app
from forecaster.config import Settings
from forecaster.db.session import make_engine, make_session_factory, upgrade
from tests.api.conftest import TestClient, store_sample
from tests.pg import Cluster

pytestmark = pytest.mark.postgres

READS = [
    "/api/v1/series",
    "/api/v1/series/seattle-weather",
    "/api/v1/series/seattle-weather/observations?limit=5",
    "/api/v1/models",
    "/api/v1/runs",
    "/api/v1/forecasts/seattle-weather",
    "/api/v1/series/seattle-weather/accuracy",
]


def _database(cluster: Cluster) -> str:
    engine = make_engine(cluster.admin_url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text('CREATE DATABASE "outage"'))
    engine.dispose()
    url = cluster.url("outage")
    upgrade(url)
    factory = make_session_factory(url)
    store_sample(factory, "seattle-weather")
    factory.kw["bind"].dispose()
    return url


def test_every_read_is_a_503_with_retry_after_while_postgres_is_down_then_recovers(
    own_cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    url = _database(own_cluster)
    settings = Settings(database_url=url, api_key=SecretStr("test"))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert client.get("/api/v1/series").status_code == 200

        own_cluster.pause()
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            for _ in range(2):  # the second round: the pool's connections are already dead
                for path in READS:
                    r = client.get(path)
                    assert r.status_code == 503, (path, r.status_code, r.text)
                    assert r.headers["retry-after"] == "5", path
                    assert r.json() == {
                        "detail": "the database is unavailable right now (restarting, or an "
                        "outage); retry in 5 seconds"
                    }, path
            health = client.get("/health")
            assert health.status_code == 503
        outage_lines = [r for r in caplog.records if "database unavailable" in r.getMessage()]
        assert len(outage_lines) == 1, [r.getMessage() for r in caplog.records]
        assert not any(r.exc_info for r in caplog.records), "no traceback per request"

        own_cluster.resume()
        deadline = time.monotonic() + 30
        status = 0
        while time.monotonic() < deadline:
            status = client.get("/api/v1/series").status_code
            if status == 200:
                break
            time.sleep(0.5)
        assert status == 200, "the app did not recover after the database came back"
        assert client.get("/api/v1/series/seattle-weather").json()["key"] == "seattle-weather"


def test_a_write_during_the_outage_is_a_503_and_stores_nothing_half(
    own_cluster: Cluster,
) -> None:
    url = _database(own_cluster)
    settings = Settings(database_url=url, api_key=SecretStr("test"))
    body = {"source": "yahoo", "key": "MSFT", "ticker": "MSFT"}
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        own_cluster.pause()
        r = client.post("/api/v1/series", json=body, headers={"X-API-Key": "test"})
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "5"
        own_cluster.resume()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and client.get("/api/v1/series").status_code != 200:
            time.sleep(0.5)
        keys = [s["key"] for s in client.get("/api/v1/series").json()["data"]]
        assert keys == ["seattle-weather"]
