"""The run table: a run's lifecycle (created, started, finished), its lease and cancel request,
and the queries that find active and stale runs. Functions take the session as a keyword and
never commit or close it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, text, update
from sqlalchemy.orm import Session

from forecaster.db.models import ACTIVE_RUN_STATUSES, Run, utcnow
from forecaster.errors import UnknownRun


def create_run(
    *,
    session: Session,
    kind: str,
    parameters: dict[str, Any] | None = None,
    trigger: str | None = None,
    reason: str | None = None,
) -> Run:
    run = Run(
        kind=kind, parameters=parameters or {}, status="pending", trigger=trigger, reason=reason
    )
    session.add(run)
    session.flush()
    return run


def get_run(*, session: Session, run_id: int) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise UnknownRun(run_id=run_id)
    return run


def start_run(*, session: Session, run_id: int, flow_run_id: str | None = None) -> None:
    run = get_run(session=session, run_id=run_id)
    run.status, run.started_at = "running", utcnow()
    if flow_run_id:
        run.flow_run_id = flow_run_id


def finish_run(
    *,
    session: Session,
    run_id: int,
    status: str,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    run = get_run(session=session, run_id=run_id)
    run.status, run.finished_at = status, utcnow()
    run.result = result or {}
    run.error = error


def list_runs(
    *,
    session: Session,
    kind: str | None = None,
    status: str | None = None,
    limit: int = 50,
) -> Sequence[Run]:
    q = select(Run).order_by(Run.id.desc()).limit(limit)
    if kind:
        q = q.where(Run.kind == kind)
    if status:
        q = q.where(Run.status == status)
    return session.scalars(q).all()


def runs_to_reap(
    *, session: Session, stale_before: datetime, pending_before: datetime
) -> Sequence[Run]:
    """Running runs whose lease was last renewed before `stale_before`, and pending runs
    created before `pending_before` (rows another reaper holds are skipped)."""
    q = select(Run).where(
        Run.status.in_(ACTIVE_RUN_STATUSES),
        or_(
            (Run.status == "running")
            & (
                Run.heartbeat_at.is_(None) & (Run.started_at < stale_before)
                | (Run.heartbeat_at < stale_before)
            ),
            (Run.status == "pending") & (Run.created_at < pending_before),
        ),
    )
    return session.scalars(q.with_for_update(skip_locked=True)).all()


def all_active_runs(*, session: Session) -> Sequence[Run]:
    return session.scalars(select(Run).where(Run.status.in_(ACTIVE_RUN_STATUSES))).all()


def renew_lease(*, session: Session, run_id: int) -> datetime | None:
    """Renew a running run's heartbeat; returns when a cancel was requested (None: never)."""
    session.execute(
        update(Run).where(Run.id == run_id, Run.status == "running").values(heartbeat_at=utcnow())
    )
    return cancel_requested_at(session=session, run_id=run_id)


def cancel_requested_at(*, session: Session, run_id: int) -> datetime | None:
    return session.scalar(select(Run.cancel_requested_at).where(Run.id == run_id))


def lease_state(*, session: Session, run_id: int) -> tuple[str | None, datetime | None]:
    """The run's status and when a cancel was requested (None, None: no such run)."""
    row = session.execute(
        select(Run.status, Run.cancel_requested_at).where(Run.id == run_id)
    ).first()
    return (None, None) if row is None else (row[0], row[1])


def status_for_write(*, session: Session, run_id: int) -> str | None:
    """The run's status, share-locked until the transaction ends: on PostgreSQL (FOR SHARE) the
    reaper skips the row and a close waits for this transaction, so the status read is the
    status the transaction commits under; SQLite's single writer serializes the same way once
    the transaction has written. None: no such run."""
    return session.scalar(select(Run.status).where(Run.id == run_id).with_for_update(read=True))


def run_of_flow_run(*, session: Session, flow_run_id: str) -> Run | None:
    return session.scalars(select(Run).where(Run.flow_run_id == flow_run_id)).first()


def active_runs(*, session: Session, kind: str) -> Iterable[Run]:
    return session.scalars(
        select(Run).where(Run.kind == kind, Run.status.in_(ACTIVE_RUN_STATUSES)).order_by(Run.id)
    ).all()


def database_up_since(*, session: Session) -> datetime | None:
    """When the database server last started, as naive UTC (PostgreSQL's
    pg_postmaster_start_time); None where the database cannot say (SQLite: no server)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    started = session.scalar(text("SELECT pg_postmaster_start_time() AT TIME ZONE 'UTC'"))
    return started if isinstance(started, datetime) else None
