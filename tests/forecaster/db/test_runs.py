"""Runs on a real SQLite file and a real PostgreSQL server: a run's lifecycle."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from forecaster.db import runs as runs_db
from forecaster.errors import UnknownRun


def test_run_lifecycle(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        run_id = runs_db.create_run(
            session=session, kind="ingest", parameters={"series": ["AAPL"]}
        ).id
        assert [r.id for r in runs_db.active_runs(session=session, kind="ingest")] == [run_id]
        runs_db.start_run(session=session, run_id=run_id)
        runs_db.finish_run(session=session, run_id=run_id, status="failed", error="boom")
    with session_factory.begin() as session:
        run = runs_db.get_run(session=session, run_id=run_id)
        assert (run.status, run.error) == ("failed", "boom")
        assert run.finished_at is not None and run.started_at is not None
        assert list(runs_db.active_runs(session=session, kind="ingest")) == []
        with pytest.raises(UnknownRun):
            runs_db.get_run(session=session, run_id=999)
