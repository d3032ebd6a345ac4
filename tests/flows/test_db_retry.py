"""A flow's database writes wait out an outage (flows.common.wait_for_connections): a write made
while PostgreSQL is down goes through once it is back within FORECASTER_DB_RETRY_S, and past the
bound it fails as "database unavailable", which is what the run's error says, not a crash."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from flows import common
from forecaster.config import get_settings
from tests.pg import Cluster

pytestmark = pytest.mark.postgres


@pytest.fixture
def flow_url(own_cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("FORECASTER_DB_RETRY_S", "30")
    get_settings.cache_clear()
    url = own_cluster.admin_url
    yield url
    db = common._DATABASES.pop(url, None)
    if db is not None:
        db.dispose()
    get_settings.cache_clear()


def test_a_write_during_an_outage_waits_for_the_database(
    own_cluster: Cluster,
    flow_url: str,
) -> None:
    factory = common.session_factory(flow_url)
    with factory.begin() as session:
        session.execute(text("CREATE TABLE beat (n int)"))
    own_cluster.pause()
    threading.Timer(6, own_cluster.resume).start()  # back within the bound
    t0 = time.monotonic()
    with factory.begin() as session:  # a heartbeat, a registration: blocks, then writes
        session.execute(text("INSERT INTO beat VALUES (1)"))
    waited = time.monotonic() - t0
    assert waited >= 4, waited  # it did wait for the server to come back
    with factory() as session:
        assert session.execute(text("SELECT count(*) FROM beat")).scalar_one() == 1


def test_past_the_bound_the_run_error_says_database_unavailable(
    own_cluster: Cluster,
    flow_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORECASTER_DB_RETRY_S", "2")
    get_settings.cache_clear()
    common._DATABASES.pop(flow_url, None)
    factory = common.session_factory(flow_url)
    own_cluster.pause()
    try:
        with pytest.raises(Exception) as caught, factory.begin() as session:
            session.execute(text("SELECT 1"))
    finally:
        own_cluster.resume()
    error = common.run_error(caught.value)
    assert error.startswith("database unavailable"), error
    assert "killed" not in error and "crash" not in error


def test_a_transaction_whose_connection_drops_is_redone_whole(flow_url: str) -> None:
    """A registration in flight when PostgreSQL restarts ("terminating connection due to
    administrator command") failed the candidate after minutes of training; it is redone."""
    from forecaster.db.session import transaction

    factory = common.session_factory(flow_url)
    with factory.begin() as session:
        session.execute(text("CREATE TABLE registered (n int)"))
    calls: list[int] = []

    def register(session: Session) -> int:
        calls.append(1)
        session.execute(text("INSERT INTO registered VALUES (1)"))
        if len(calls) == 1:  # the server drops this connection mid-transaction
            session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return len(calls)

    assert transaction(factory, register, retry_s=30) == 2
    with factory() as session:  # the first attempt rolled back: one row, not two
        assert session.execute(text("SELECT count(*) FROM registered")).scalar_one() == 1
