"""What every flow shares: resolving the database from settings, and the run row's lifecycle
(claimed, leased while it runs, closed with a status; see forecaster.app.runs)."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from prefect import State, states
from prefect.runtime import deployment, flow_run
from sqlalchemy import Engine, event
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from flows import leases
from forecaster.app import runs
from forecaster.config import get_settings
from forecaster.db import runs as runs_db
from forecaster.db.models import ACTIVE_RUN_STATUSES, Run
from forecaster.db.session import Database, transaction

logger = logging.getLogger(__name__)

T = TypeVar("T")

_DATABASES: dict[str, Database] = {}


class DatabaseUnavailable(Exception):
    """The database refused connections for longer than the flows wait (FORECASTER_DB_RETRY_S)."""


def session_factory(database_url: str | None) -> sessionmaker[Session]:
    """One engine per URL per process (flows run many times in a long-lived server); its new
    connections wait out a database outage (see `wait_for_connections`)."""
    url = database_url or get_settings().database_url
    if url not in _DATABASES:
        db = _DATABASES[url] = Database(url)
        wait_for_connections(db.engine, get_settings().db_retry_s)
    return _DATABASES[url].sessions


def wait_for_connections(engine: Engine, seconds: float) -> None:
    """Make `engine`'s new connections retry for up to `seconds` while the server refuses them.

    The pool pings a connection before handing it out (pool_pre_ping), so after an outage every
    checkout opens a new connection: this is the one place every flow write (a heartbeat, a
    candidate's registration on a Dask worker, a series' commit, closing the run) passes. Past
    the bound the write fails with DatabaseUnavailable, which the run's error reports as
    "database unavailable", not as a crash. SQLite opens files, not connections: its lock waits
    are its busy timeout's.
    """
    if engine.dialect.name == "sqlite" or seconds <= 0:
        return

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        deadline = time.monotonic() + seconds
        delay, logged = 0.5, False
        while True:
            try:
                return dialect.loaded_dbapi.connect(*cargs, **cparams)
            except dialect.loaded_dbapi.OperationalError as exc:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DatabaseUnavailable(
                        f"database unavailable for {seconds:.0f} s: {str(exc).strip()[:200]}"
                    ) from exc
                if not logged:
                    logger.warning("database unreachable; retrying for up to %.0f s", left)
                    logged = True
                time.sleep(min(delay, left))
                delay = min(delay * 2, 5.0)


def open_run(
    factory: sessionmaker[Session],
    kind: str,
    run_id: int | None,
    parameters: dict[str, Any],
    policy: runs.LeasePolicy | None = None,
) -> int:
    """Mark the run row as running and start renewing its lease (`policy`: the flow's settings';
    None reads the environment).

    A flow started from the shell (no `run_id`) claims its series first, exactly as the API
    does, so a CLI retrain refuses to overlap one the API started and the other way round.

    Raises:
        RunInProgress: (shell-started) an overlapping run of the same kind is active.
        RunCancelled: the run was cancelled (or reaped) before a worker got to it.
    """
    policy = policy or runs.LeasePolicy.from_env()
    with factory.begin() as session:
        if run_id is None:
            run_id = runs.claim(
                session=session,
                kind=kind,
                series=parameters.get("series") or [],
                parameters={**parameters, "executor": runs.Executor.here().to_json("flow")},
                policy=policy,
                exclusive=kind in runs.EXCLUSIVE,
                # a deployment's run is the schedule's (or run_deployment's); else the shell's
                trigger="schedule" if deployment.id else "cli",
            ).id
        run = runs_db.get_run(session=session, run_id=run_id)
        if run.status not in ACTIVE_RUN_STATUSES:
            raise leases.RunCancelled(f"run {run_id} is already {run.status}; not starting it")
        runs_db.start_run(
            session=session,
            run_id=run_id,
            flow_run_id=str(flow_run.get_id() or "") or None,
        )
    leases.hold(factory, run_id, policy)
    return run_id


def close_run(
    factory: sessionmaker[Session],
    run_id: int,
    *,
    ok: bool,
    result: dict[str, Any],
    error: str | None,
) -> None:
    status: str = "completed" if ok else "failed"
    close_status(factory, run_id, status=status, result=result, error=error)


def close_status(
    factory: sessionmaker[Session],
    run_id: int,
    *,
    status: str,
    result: dict[str, Any],
    error: str | None,
) -> None:
    """End the run (only if still active: a reaped or cancelled run keeps its status) and
    release its lease."""

    def close(session: Session) -> None:
        run = runs_db.get_run(session=session, run_id=run_id)
        if run.status in ACTIVE_RUN_STATUSES:
            ended = "cancelled" if run.cancel_requested_at and status == "failed" else status
            runs_db.finish_run(
                session=session, run_id=run_id, status=ended, result=result, error=error
            )
        else:
            run.result = result or run.result

    try:  # redone whole if the database drops the connection under it
        transaction(factory, close)
    finally:
        leases.release(run_id)


@dataclass(frozen=True)
class Cancelled:
    """A flow's result when its run was cancelled, or ended (reaped), before it finished."""

    run_id: int

    def to_json(self) -> dict[str, Any]:
        """The flow's result as JSON, as a finished run's `to_json()` (callers read keys)."""
        return {"run_id": self.run_id, "cancelled": True}


def guarded(
    factory: sessionmaker[Session], run_id: int, body: Callable[[], T]
) -> T | State[Cancelled]:
    """Run the flow body; a crash is recorded on the run row with its reason, then re-raised.

    A run cancelled (or ended by the reaper) part-way returns a Prefect state that follows the
    row: Cancelled, or Failed with the reaper's reason, carrying `Cancelled(run_id)`, so the
    flow run does not show Completed for a run that did not complete (`outcome` reads it).
    """
    try:
        return body()
    except leases.RunCancelled as exc:
        close_status(factory, run_id, status="cancelled", result={}, error=str(exc))
        with factory() as session:
            run = runs_db.get_run(session=session, run_id=run_id)
            status, error = run.status, run.error or str(exc)
        if status == "failed":
            return states.Failed(message=f"run {run_id} failed: {error}", data=Cancelled(run_id))
        return states.Cancelled(message=f"run {run_id} was cancelled", data=Cancelled(run_id))
    except BaseException as exc:
        logger.error("run %d failed: %s", run_id, traceback.format_exc(limit=6))
        close_run(factory, run_id, ok=False, result={}, error=run_error(exc))
        raise


def run_error(exc: BaseException) -> str:
    """The run's error for an exception: a database that stayed away says so in words."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, DatabaseUnavailable):
            return str(cause)
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, OperationalError | InterfaceError):
        return f"database unavailable: {str(exc.orig or exc).strip()[:200]}"
    return f"{type(exc).__name__}: {exc}"


def outcome(state: State[Any]) -> Any:
    """What a flow called with `return_state=True` produced: its result, or `Cancelled` for a
    run cancelled or ended part-way; a flow that raised raises here."""
    value = state.result(raise_on_failure=False)
    if isinstance(value, BaseException):
        raise value
    return value


def _end_from_hook(state_name: str, flow_run_obj: Any, state: Any) -> None:
    """Prefect state hook (crashed, cancelled): end the run row the flow run was working on."""
    params = getattr(flow_run_obj, "parameters", None) or {}
    factory = session_factory(params.get("database_url"))
    reason = f"Prefect reported the flow run {state_name}: {getattr(state, 'message', '') or ''}"
    with factory.begin() as session:
        run_id = params.get("run_id")
        run = session.get(Run, run_id) if isinstance(run_id, int) else None
        if run is None:
            run = runs_db.run_of_flow_run(session=session, flow_run_id=str(flow_run_obj.id))
        if run is None or run.status not in ACTIVE_RUN_STATUSES:
            return
        status = "cancelled" if state_name == "Cancelled" else "failed"
        runs_db.finish_run(
            session=session, run_id=run.id, status=status, result=run.result, error=reason.strip()
        )
        leases.release(run.id)


# Prefect calls hooks positionally in the flow engine and by keyword (flow=, flow_run=, state=)
# from the runner's cancellation path: the parameter names are part of the contract.
def on_crashed(flow: Any, flow_run: Any, state: Any) -> None:  # noqa: ARG001
    _end_from_hook("Crashed", flow_run, state)


def on_cancelled(flow: Any, flow_run: Any, state: Any) -> None:  # noqa: ARG001
    _end_from_hook("Cancelled", flow_run, state)


HOOKS: dict[str, Any] = {"on_crashed": [on_crashed], "on_cancellation": [on_cancelled]}


def crash_flow_runs(ended: list[tuple[int, str, str]], api_url: str | None) -> None:
    """Mark the flow run of each run the reaper ended ((run id, flow run id, reason)) Crashed
    with the run's reason, unless it already reached a final state: a run whose process died
    does not show Running in Prefect for ever. Best effort: the run row is what the API reports.
    `api_url`: the Prefect server the runs were deployed on (None: this process's)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    settings = {PREFECT_API_URL: api_url} if api_url else {}
    for run_id, flow_run_id, error in ended:
        try:
            with temporary_settings(settings), get_client(sync_client=True) as client:
                flow_run = client.read_flow_run(UUID(flow_run_id))
                if flow_run.state is None or not flow_run.state.is_final():
                    client.set_flow_run_state(
                        flow_run.id, states.Crashed(message=f"run {run_id}: {error}"), force=True
                    )
        except Exception as exc:  # noqa: BLE001 - a server down must not stop the reaper
            logger.warning(
                "run %d: could not mark flow run %s Crashed: %s", run_id, flow_run_id, exc
            )
