"""The lease a running run holds: a daemon thread renewing its heartbeat, and checkpoints that
stop the run's work when a cancel was asked for or the run has ended (reaped, failed, closed)
while its tasks still train. Orchestration, so it lives beside the flows; the rules
(LeasePolicy, claim, reap, ensure_active) are the runs use case's (forecaster/app/runs.py).

`recorded` wraps work no flow wraps (the CLI's `train`) in a run row of its own.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from forecaster.app.runs import EXCLUSIVE, Executor, LeasePolicy, claim
from forecaster.app.training import TrainRequest, train_series
from forecaster.champion import Decision
from forecaster.db import runs as runs_db
from forecaster.db.models import ACTIVE_RUN_STATUSES

logger = logging.getLogger(__name__)


class RunCancelled(Exception):
    """Raised at a flow checkpoint after the run was cancelled, or once it has ended (a task on
    a Dask worker may outlive the flow that submitted it: it stops at its next checkpoint)."""


# --- the lease ------------------------------------------------------------------------------


@dataclass
class Lease:
    """Renews a running run's heartbeat from a daemon thread; notices a cancel request."""

    factory: sessionmaker[Session]
    run_id: int
    policy: LeasePolicy = field(default_factory=LeasePolicy.from_env)
    cancelled: threading.Event = field(default_factory=threading.Event)
    ended: str = "was cancelled"  # why `cancelled` is set: a cancel, or the run's end status
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Lease:
        self.beat()
        self._thread = threading.Thread(
            target=self._loop, name=f"forecaster-lease-{self.run_id}", daemon=True
        )
        self._thread.start()
        return self

    def beat(self) -> None:
        with self.factory.begin() as session:
            requested = runs_db.renew_lease(session=session, run_id=self.run_id)
        if requested is not None:
            self.cancelled.set()

    def _loop(self) -> None:
        wait = self.policy.heartbeat_s
        while not self._stop.wait(wait):
            try:
                self.beat()
                wait = self.policy.heartbeat_s
            except Exception:  # noqa: BLE001 - retried each second: beats resume with the database
                logger.warning("run %d: could not renew its lease", self.run_id, exc_info=True)
                wait = min(1.0, self.policy.heartbeat_s)

    def checkpoint(self) -> None:
        """Raise RunCancelled when a cancel was requested or the run is no longer running
        (checked against the row, not only the last beat, so either is seen at once).

        A database that cannot be read is no reason to stop: the work goes on, and whatever it
        registers is checked again in the transaction that writes it (app.runs.ensure_active).
        """
        if not self.cancelled.is_set():
            try:
                with self.factory() as session:
                    status, cancel = runs_db.lease_state(session=session, run_id=self.run_id)
            except (OperationalError, InterfaceError):
                logger.warning("run %d: checkpoint could not read the run", self.run_id)
                return
            if cancel is not None or status not in ("running", "pending"):
                self.ended = "was cancelled" if cancel is not None else f"is {status}"
                self.cancelled.set()
        if self.cancelled.is_set():
            raise RunCancelled(f"run {self.run_id} {self.ended}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.policy.heartbeat_s + 1)


_LEASES: dict[int, Lease] = {}
_LEASES_LOCK = threading.Lock()


def hold(factory: sessionmaker[Session], run_id: int, policy: LeasePolicy | None = None) -> Lease:
    lease = (Lease(factory, run_id) if policy is None else Lease(factory, run_id, policy)).start()
    with _LEASES_LOCK:
        _LEASES[run_id] = lease
    return lease


def release(run_id: int) -> None:
    with _LEASES_LOCK:
        lease = _LEASES.pop(run_id, None)
    if lease is not None:
        lease.stop()


def checkpoint(run_id: int, factory: sessionmaker[Session] | None = None) -> None:
    """Raise RunCancelled when run `run_id` was cancelled. Called before each candidate, after
    each training epoch and before each series commits.

    In the process holding the run's lease this asks the lease; elsewhere (a task on a Dask
    worker) it reads the run row through `factory` when one is given.
    """
    with _LEASES_LOCK:
        lease = _LEASES.get(run_id)
    if lease is None and factory is not None:
        lease = Lease(factory, run_id)  # not started: checks the row, renews nothing
    if lease is not None:
        lease.checkpoint()


# --- a run outside any flow -------------------------------------------------------------------


@dataclass
class Recorded:
    """A run that `recorded` keeps: its id, and the result to store when it ends."""

    id: int
    result: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def recorded(
    factory: sessionmaker[Session], *, kind: str, series: Sequence[str], parameters: dict[str, Any]
) -> Iterator[Recorded]:
    """A run row for work no flow wraps (the CLI's `train`): claimed, started and leased on
    entry; completed with `.result` on a normal exit, failed with the reason (cancelled on
    Ctrl-C) otherwise. So every training run is listed beside the flows' runs."""
    with factory.begin() as session:
        row = claim(
            session=session,
            kind=kind,
            series=series,
            parameters={
                **parameters,
                "series": list(series),
                "executor": Executor.here().to_json(),
            },
            policy=LeasePolicy.from_env(),
            exclusive=kind in EXCLUSIVE,
        )
        runs_db.start_run(session=session, run_id=row.id)
        run = Recorded(row.id)
    hold(factory, run.id)
    status, error = "completed", None
    try:
        yield run
    except KeyboardInterrupt:
        status, error = "cancelled", "interrupted (Ctrl-C)"
        raise
    except BaseException as exc:
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        release(run.id)
        with factory.begin() as session:
            if runs_db.get_run(session=session, run_id=run.id).status in ACTIVE_RUN_STATUSES:
                runs_db.finish_run(
                    session=session, run_id=run.id, status=status, result=run.result, error=error
                )


def train_recorded(
    sessions: sessionmaker[Session], request: TrainRequest, **options: Any
) -> Decision:
    """`train_series` as a `train` run of its own (leased, cancellable, listed with the flows'
    runs), for work no flow wraps: the CLI's `train`. `options` go to train_series."""
    parameters = {"spec": request.spec.to_dict(), "promote": request.promote}
    with recorded(
        sessions, kind="train", series=[request.series_key], parameters=parameters
    ) as run:
        decision = train_series(sessions=sessions, request=request, run_id=run.id, **options)
        run.result = {
            "versions": [decision.version_id],
            "promoted": [decision.version_id] if decision.promoted else [],
            "reason": decision.reason,
        }
    return decision
