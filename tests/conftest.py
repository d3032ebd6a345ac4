"""Shared fixtures: a database URL for SQLite and PostgreSQL, migrated through Alembic."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

from forecaster.db.session import Database, make_engine, upgrade  # noqa: E402
from tests.pg import Cluster, start_cluster  # noqa: E402

# The real data sets the tests read, inside the repository (see data/README.md for credit).
REPO_DATA = Path(__file__).resolve().parents[1] / "data"

# FORECASTER_TEST_POSTGRES: "required" (CI: fail loudly if it cannot start), "off" (skip),
# unset (try; skip PostgreSQL tests with the reason if the server cannot start here).
PG_MODE = os.environ.get("FORECASTER_TEST_POSTGRES", "auto")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster | None]:
    if PG_MODE == "off":
        yield None
        return
    try:
        cluster = start_cluster()
    except Exception as exc:  # noqa: BLE001 - reported as the skip/fail reason
        if PG_MODE == "required":
            pytest.fail(f"FORECASTER_TEST_POSTGRES=required but PostgreSQL could not start: {exc}")
        yield None
        return
    yield cluster
    cluster.stop()


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL of the test's own, for tests that stop it (the session's cluster
    serves the other tests); skipped or failed per FORECASTER_TEST_POSTGRES."""
    if PG_MODE == "off":
        pytest.skip("FORECASTER_TEST_POSTGRES=off")
    try:
        cluster = start_cluster()
    except Exception as exc:  # noqa: BLE001 - reported as the skip/fail reason
        if PG_MODE == "required":
            pytest.fail(f"FORECASTER_TEST_POSTGRES=required but PostgreSQL could not start: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    yield cluster
    cluster.stop()


def _new_pg_database(cluster: Cluster) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = make_engine(cluster.admin_url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return cluster.url(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database: a SQLite file, or a new database on the throwaway cluster."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
    else:
        cluster = request.getfixturevalue("pg_cluster")
        if cluster is None:
            pytest.skip(
                "PostgreSQL not available: install the server (apt-get install postgresql) or "
                "run `make test` as CI does (.ci/run sets FORECASTER_TEST_POSTGRES=required)"
            )
        url = _new_pg_database(cluster)
    upgrade(url)
    return url


@pytest.fixture
def session_factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    with Database(database_url) as db:
        yield db.sessions


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One ephemeral Prefect API for the whole run: real flows, real task runs and states."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield
