"""Engines, sessions and migrations on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.orm import Session, sessionmaker

from forecaster.db.session import current_revision, head_revision


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
