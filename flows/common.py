"""What every flow shares: resolving the database from settings, and the run row's lifecycle."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from prefect.runtime import flow_run
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config import get_settings
from forecaster.db import repo
from forecaster.db.session import make_session_factory

_FACTORIES: dict[str, sessionmaker[Session]] = {}


def session_factory(database_url: str | None) -> sessionmaker[Session]:
    """One engine per URL per process (flows run many times in a long-lived server)."""
    url = database_url or get_settings().database_url
    if url not in _FACTORIES:
        _FACTORIES[url] = make_session_factory(url)
    return _FACTORIES[url]


def open_run(
    factory: sessionmaker[Session],
    kind: str,
    run_id: int | None,
    parameters: dict[str, Any],
) -> int:
    """Mark the run row as running (creating it when the flow was started from the shell)."""
    with factory.begin() as session:
        if run_id is None:
            run_id = repo.create_run(session=session, kind=kind, parameters=parameters).id
        repo.start_run(
            session=session,
            run_id=run_id,
            flow_run_id=str(flow_run.get_id() or "") or None,
        )
    return run_id


def close_run(
    factory: sessionmaker[Session],
    run_id: int,
    *,
    ok: bool,
    result: dict[str, Any],
    error: str | None,
) -> None:
    with factory.begin() as session:
        repo.finish_run(
            session=session,
            run_id=run_id,
            status="completed" if ok else "failed",
            result=result,
            error=error,
        )


def guarded(factory: sessionmaker[Session], run_id: int, body: Callable[[], Any]) -> Any:
    """Run the flow body; a crash is recorded on the run row with its reason, then re-raised."""
    try:
        return body()
    except BaseException as exc:
        close_run(
            factory,
            run_id,
            ok=False,
            result={},
            error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}",
        )
        raise
