"""Runs: trigger an ingest or a retrain (202, executed in the background), list and poll them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from api import redact
from api.deps import ApiKey, DispatcherDep, FullDetail, SessionDep
from api.schemas.common import DbId
from api.schemas.runs import RunCreate, RunList, RunPublic
from forecaster.app import runs
from forecaster.db import runs as runs_db
from forecaster.db.models import Run, utcnow
from forecaster.errors import InvalidRequest

router = APIRouter(prefix="/runs", tags=["runs"])


def _as_stored(data: Any) -> Any:
    return data


def run_public(run: Run, *, full: bool = False) -> RunPublic:
    """`full`: errors and results as stored (API key); else reasons cut to one sanitized line."""
    shown: Callable[[Any], Any] = _as_stored if full else redact.value
    duration = None
    if run.started_at is not None:  # still running: the time so far
        duration = max(((run.finished_at or utcnow()) - run.started_at).total_seconds(), 0.0)
    versions = run.result.get("versions") or []
    return RunPublic(
        id=run.id,
        kind=run.kind,
        status=run.status,
        parameters=shown(run.parameters),
        flow_run_id=run.flow_run_id,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_s=duration,
        heartbeat_at=run.heartbeat_at,
        cancel_requested_at=run.cancel_requested_at,
        error=run.error if full else redact.reason(run.error),
        result=shown(run.result),
        versions=[int(v) for v in versions if isinstance(v, int | str) and str(v).isdigit()],
        trigger=run.trigger,
        reason=run.reason,
    )


@router.post(
    "",
    status_code=202,
    dependencies=[ApiKey],
    responses={
        404: {"description": "unknown series"},
        409: {"description": "a retrain of one of these series is already running"},
        422: {"description": "invalid body"},
        429: {"description": "too many runs pending or running (in all, or for these series)"},
    },
)
def create_run(body: RunCreate, dispatcher: DispatcherDep, session: SessionDep) -> RunPublic:
    """Start an ingest or a retrain in the background; poll GET /runs/{id} for its status."""
    if body.quick and body.kind != "retrain":
        raise InvalidRequest("quick applies to retrain runs only; drop it for an ingest")
    options = {"quick": True} if body.quick else None
    run_id = dispatcher.submit(kind=body.kind, series=body.series, options=options)
    return run_public(runs_db.get_run(session=session, run_id=run_id), full=True)


@router.get("")
def list_runs(
    session: SessionDep,
    full: FullDetail,
    kind: Literal["ingest", "retrain", "forecast"] | None = None,
    status: Literal["pending", "running", "completed", "failed", "cancelled"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> RunList:
    """Newest first. Errors are one sanitized line unless the request carries the API key."""
    runs = [
        run_public(r, full=full)
        for r in runs_db.list_runs(session=session, kind=kind, status=status, limit=limit)
    ]
    return RunList(data=runs, count=len(runs))


@router.get("/{run_id}", responses={404: {"description": "unknown run"}})
def read_run(run_id: DbId, session: SessionDep, full: FullDetail) -> RunPublic:
    return run_public(runs_db.get_run(session=session, run_id=run_id), full=full)


@router.post(
    "/{run_id}/cancel",
    status_code=202,
    dependencies=[ApiKey],
    responses={404: {"description": "unknown run"}, 409: {"description": "run already ended"}},
)
def cancel_run(run_id: DbId, session: SessionDep) -> RunPublic:
    """Cancel a run: a pending one ends `cancelled` at once; a running one stops at its next
    checkpoint (before each candidate, before each series' promotions commit) and ends
    `cancelled` with nothing of the unfinished series promoted."""
    run = runs.request_cancel(session=session, run_id=run_id)
    session.flush()
    return run_public(run, full=True)
