"""Engines, sessions and migrations on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from forecaster.db import series as series_db
from forecaster.db.session import (
    Database,
    current_revision,
    head_revision,
    make_session_factory,
    schema_revision,
)


def test_migrations_create_every_table_at_head(
    database_url: str, session_factory: sessionmaker[Session]
) -> None:
    engine = session_factory.kw["bind"]
    assert set(inspect(engine).get_table_names()) >= {
        "series",
        "observation",
        "model_version",
        "evaluation",
        "run",
        "forecast",
        "alembic_version",
    }
    assert current_revision(engine) == head_revision(database_url)


def test_database_sessions_share_its_engine_until_it_is_disposed(database_url: str) -> None:
    with Database(database_url) as db:
        assert db.sessions.kw["bind"] is db.engine
        with db.sessions.begin() as session:
            series_db.register_series(session=session, key="AAPL", source="yahoo")
        with db.sessions() as session:  # another session, the same pool: it sees the commit
            assert [s.key for s in series_db.list_series(session=session)] == ["AAPL"]
        pool = db.engine.pool
        assert (
            isinstance(pool, QueuePool) and pool.checkedin() >= 1
        )  # the connection went back to the pool, still open
    assert pool.checkedin() == 0  # leaving the block closed it
    assert db.engine.pool is not pool


def test_database_is_disposed_when_its_block_raises(database_url: str) -> None:
    with pytest.raises(RuntimeError, match="boom"), Database(database_url) as db:
        with db.sessions() as session:
            session.execute(text("SELECT 1"))
        pool = db.engine.pool
        raise RuntimeError("boom")
    assert isinstance(pool, QueuePool) and pool.checkedin() == 0
    assert db.engine.pool is not pool


def test_database_adopts_an_engine_and_reports_the_schema_revision(database_url: str) -> None:
    factory = make_session_factory(database_url)
    db = Database(factory.kw["bind"])
    try:
        assert db.engine is factory.kw["bind"]
        assert schema_revision(engine=db.engine) == head_revision(database_url)
        with db.sessions() as session:
            assert session.scalar(text("SELECT 1")) == 1
    finally:
        db.dispose()


def test_sqlite_connections_get_the_pragmas(tmp_path: Path) -> None:
    with Database(f"sqlite:///{tmp_path / 'new.db'}") as db, db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert schema_revision(engine=db.engine) is None  # never migrated
