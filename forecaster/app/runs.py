"""Every run ends: lease policy, the reaper, series locks and cancellation (the lease threads
that renew a running run's heartbeat are orchestration: flows/leases.py).

A run row is `pending` until a flow opens it, then `running` while its flow renews a lease
(`run.heartbeat_at`, every `HEARTBEAT_S` seconds from a daemon thread in the flow's process).
Whoever started it (the API's thread, a Prefect worker, the CLI), if that process dies the
lease lapses and `reap` marks the run failed with the reason, so a killed run never blocks its
series. A pending run nobody picked up within `PENDING_TIMEOUT_S` fails the same way ("no
worker"). The reaper runs before every new run is accepted and periodically in the API.

Time the database was down is not held against a lease: a run cannot renew its heartbeat while
its database is unreachable, so the reaper counts a lease's age from the later of its last
heartbeat and the moment the database server last started (PostgreSQL's
pg_postmaster_start_time). After a 20 s restart every lease gets a full `stale_s` for its
heartbeats to resume (the lease thread retries each second after a failed beat) before the
run can be reaped; a run whose process died is still reaped `stale_s` after the restart.

Two runs that touch the same series are never active together: `claim` takes a write lock on
the series rows first (an UPDATE that changes nothing: a row lock on PostgreSQL, the write lock
on SQLite), then checks, then creates, in one transaction.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from forecaster.config import Settings
from forecaster.db import runs as runs_db
from forecaster.db import series as series_db
from forecaster.db.models import ACTIVE_RUN_STATUSES, Run, utcnow
from forecaster.errors import InvalidRequest, RunEnded, RunInProgress, TooBusy

logger = logging.getLogger(__name__)

# Kinds of run that must not overlap on a series (two ingests of a series may: upserts are
# idempotent; two retrains would race for its champions).
EXCLUSIVE = ("retrain",)


@dataclass(frozen=True)
class LeasePolicy:
    """How often a running flow renews its lease, when a lapsed one fails the run, and how long
    a run may wait for a worker (env FORECASTER_RUN_HEARTBEAT_S, _RUN_STALE_S, _RUN_PENDING_S)."""

    heartbeat_s: float = 5.0
    stale_s: float = 30.0
    pending_s: float = 600.0
    max_active: int = 8  # pending + running runs in all (FORECASTER_MAX_ACTIVE_RUNS)
    max_per_series: int = 2  # pending + running runs touching one series

    @classmethod
    def from_settings(cls, settings: Settings) -> LeasePolicy:
        policy = cls(
            heartbeat_s=settings.run_heartbeat_s,
            stale_s=settings.run_stale_s,
            pending_s=settings.run_pending_s,
            max_active=settings.max_active_runs,
            max_per_series=settings.max_runs_per_series,
        )
        if policy.stale_s < 2 * policy.heartbeat_s:
            raise InvalidRequest(
                f"FORECASTER_RUN_STALE_S={policy.stale_s:g} must be at least twice "
                f"FORECASTER_RUN_HEARTBEAT_S={policy.heartbeat_s:g}"
            )
        return policy

    @classmethod
    def from_env(cls) -> LeasePolicy:
        """The policy the environment sets now (a fresh Settings, not the cached one)."""
        return cls.from_settings(Settings())


@dataclass(frozen=True)
class Executor:
    """Who runs it: recorded on the row for operators (the lease, not the pid, decides)."""

    host: str
    pid: int

    @classmethod
    def here(cls) -> Executor:
        """This process."""
        return cls(socket.gethostname(), os.getpid())

    def to_json(self, mode: str | None = None) -> dict[str, str | int]:
        """As the run's `parameters["executor"]` records it, after `mode` when given (how the
        run was started: "flow", "thread", "replay")."""
        where: dict[str, str | int] = {"host": self.host, "pid": self.pid}
        return where if mode is None else {"mode": mode, **where}


def run_series(run: Run) -> list[str]:
    return list(run.parameters.get("series") or [])


def overlaps(run: Run, series: Sequence[str]) -> bool:
    """Two runs touch the same series; an empty list means every series."""
    theirs = run_series(run)
    return not theirs or not series or bool(set(theirs) & set(series))


# --- the reaper ---------------------------------------------------------------------------


def reap(*, session: Session, policy: LeasePolicy, now: datetime | None = None) -> list[int]:
    """Fail the runs whose lease lapsed (running) or that no worker picked up (pending)."""
    now = now or utcnow()
    stale_before = now - timedelta(seconds=policy.stale_s)
    up_since = runs_db.database_up_since(session=session)
    if up_since is not None and up_since > stale_before:  # no lease could beat while down
        stale_before = datetime.min
    pending_before = now - timedelta(seconds=policy.pending_s)
    reaped = []
    for run in runs_db.runs_to_reap(
        session=session, stale_before=stale_before, pending_before=pending_before
    ):
        if run.status == "running":
            seen = run.heartbeat_at or run.started_at or run.created_at
            error = (
                f"the process running it stopped renewing its lease at {seen:%Y-%m-%d %H:%M:%S} "
                f"UTC (no heartbeat for over {policy.stale_s:g} s): it was killed or crashed"
            )
        else:
            error = (
                f"no worker picked it up within {policy.pending_s:g} s "
                "(FORECASTER_RUN_PENDING_S); is a worker serving the deployments?"
            )
        if run.cancel_requested_at is not None:
            run.status, run.error = "cancelled", f"cancelled; {error}"
        else:
            run.status, run.error = "failed", error
        run.finished_at = now
        reaped.append(run.id)
    if reaped:
        logger.warning("runs that could not finish marked as ended: %s", reaped)
    return reaped


# --- claiming series ------------------------------------------------------------------------


def refuse_overlap(*, session: Session, kind: str, series: Sequence[str], me: int | None) -> None:
    for run in runs_db.active_runs(session=session, kind=kind):
        if run.id != me and overlaps(run, series):
            theirs = ", ".join(run_series(run)) or "every series"
            raise RunInProgress(
                f"{kind} run {run.id} is already {run.status} for {theirs}; "
                "wait for it to finish or cancel it, then try again"
            )


def claim(
    *,
    session: Session,
    kind: str,
    series: Sequence[str],
    parameters: dict[str, Any],
    policy: LeasePolicy,
    exclusive: bool,
    trigger: str | None = None,
    reason: str | None = None,
) -> Run:
    """Create a pending run for `series` in this transaction: reap stale runs, lock the series,
    refuse an active overlapping run of the same kind when `exclusive`. `trigger` and `reason`
    say who started it and why (the retrain policy records its evidence)."""
    series_db.lock_series(session=session, keys=series)
    for key in series:
        series_db.get_series(session=session, key=key)
    reap(session=session, policy=policy)
    if exclusive:
        refuse_overlap(session=session, kind=kind, series=series, me=None)
    active = runs_db.all_active_runs(session=session)
    if len(active) >= policy.max_active:
        raise TooBusy(
            f"{len(active)} runs are already pending or running, the limit "
            f"(FORECASTER_MAX_ACTIVE_RUNS={policy.max_active}); try again when one has finished"
        )
    touching = [r.id for r in active if overlaps(r, series)]
    if len(touching) >= policy.max_per_series:
        raise TooBusy(
            f"runs {', '.join(map(str, touching))} already touch these series, the limit "
            f"(FORECASTER_MAX_RUNS_PER_SERIES={policy.max_per_series}); "
            "try again when one has finished"
        )
    return runs_db.create_run(
        session=session, kind=kind, parameters=parameters, trigger=trigger, reason=reason
    )


def ensure_active(*, session: Session, run_id: int | None, what: str = "its work") -> None:
    """Refuse (RunEnded) to commit a run's work once the run has ended: call it last in the
    transaction that writes what the run trained (a version, its evaluations, a promotion).

    The status is read under a share lock held until that transaction ends, so the reaper, a
    cancel or a close cannot end the run between this check and the commit: work is either
    written while its run is running or not at all (a run reaped or cancelled part-way keeps
    no version trained after it ended). No run (`run_id` None): nothing to check.
    """
    if run_id is None:
        return
    status = runs_db.status_for_write(session=session, run_id=run_id)
    if status != "running":
        logger.warning("run %d is %s: %s is not registered", run_id, status, what)
        raise RunEnded(f"run {run_id} is {status}; {what} is not registered")


def request_cancel(*, session: Session, run_id: int) -> Run:
    """Cancel a pending run at once; ask a running one to stop at its next checkpoint."""
    run = runs_db.get_run(session=session, run_id=run_id)
    if run.status not in ACTIVE_RUN_STATUSES:
        raise RunEnded(
            f"run {run_id} is already {run.status}; only pending or running runs can be cancelled"
        )
    now = utcnow()
    run.cancel_requested_at = run.cancel_requested_at or now
    if run.status == "pending":
        run.status, run.finished_at, run.error = "cancelled", now, "cancelled before it started"
    return run
