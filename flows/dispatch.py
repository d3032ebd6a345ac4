"""How a run requested over HTTP is executed: a background thread in this process (the embedded
default), or a Prefect deployment when a Prefect server is configured (FORECASTER_PREFECT_API_URL).

Either way the run row is created first (status "pending") and the flow receives its id, so the
row records the whole life of the run: who asked, when it started and finished, what it produced.
"""

from __future__ import annotations

import inspect
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from forecaster.db import repo
from forecaster.db.models import Run
from forecaster.errors import RunInProgress

logger = logging.getLogger(__name__)

# Deployment names ("flow name/deployment name") the worker serves; see flows/deploy.py.
DEPLOYMENTS = {"ingest": "ingest/ingest", "retrain": "retrain/retrain"}
ACTIVE = ("pending", "running")


def _flow(kind: str) -> Callable[..., Any]:
    """The flow function, imported on first use (importing Prefect flows is slow)."""
    if kind == "ingest":
        from flows.ingest import ingest

        return ingest
    if kind == "retrain":
        from flows.retrain import retrain

        return retrain
    raise ValueError(f"no flow for run kind {kind!r}")


def _overlaps(run: Run, series: list[str]) -> bool:
    """Two runs touch the same series; an empty list means every series."""
    theirs = run.parameters.get("series") or []
    return not theirs or not series or bool(set(theirs) & set(series))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Dispatcher:
    """Creates run rows (at most one retrain per series at a time) and starts their flows."""

    def __init__(
        self,
        *,
        factory: sessionmaker[Session],
        database_url: str,
        prefect_api_url: str | None = None,
        retrain_config: Path | None = None,
        torch_threads: int = 0,
        on_finish: Callable[[str, int], None] | None = None,
    ) -> None:
        self.factory = factory
        self.database_url = database_url
        self.prefect_api_url = prefect_api_url
        # In-process runs follow this server's settings, not whatever the environment says.
        self.retrain_options: dict[str, Any] = {
            "config_path": str(retrain_config) if retrain_config else None,
            "threads": torch_threads or None,
        }
        # Check-then-create must not interleave between two requests in this process; the
        # database check covers runs started elsewhere (the CLI, a schedule).
        self._lock = threading.Lock()
        self._threads: dict[int, threading.Thread] = {}
        self.on_finish = on_finish  # (kind, run id) after an in-process run, success or not

    @property
    def mode(self) -> str:
        return "deployment" if self.prefect_api_url else "thread"

    def submit(self, *, kind: str, series: list[str]) -> int:
        """Record a pending run and start it in the background; returns the run id.

        Raises:
            UnknownSeries: a key in `series` is not registered.
            RunInProgress: a retrain touching one of these series is pending or running.
        """
        series = list(dict.fromkeys(series))  # drop repeats, keep order
        with self._lock, self.factory.begin() as session:
            for key in series:
                repo.get_series(session=session, key=key)
            if kind == "retrain":
                self._refuse_overlap(session, series)
            executor: dict[str, Any] = {"mode": self.mode}
            if self.mode == "thread":
                executor |= {"host": socket.gethostname(), "pid": os.getpid()}
            run_id = repo.create_run(
                session=session,
                kind=kind,
                parameters={"series": series, "executor": executor},
            ).id
        if self.mode == "deployment":
            self._deploy(kind, run_id, series)
        else:
            self._start_thread(kind, run_id, series)
        return run_id

    def _refuse_overlap(self, session: Session, series: list[str]) -> None:
        for run in repo.active_runs(session=session, kind="retrain"):
            if _overlaps(run, series):
                theirs = ", ".join(run.parameters.get("series") or []) or "every series"
                raise RunInProgress(
                    f"retrain run {run.id} is already {run.status} for {theirs}; "
                    f"wait for it to finish (GET /api/v1/runs/{run.id}) and try again"
                )

    # --- in-process -------------------------------------------------------------------

    def _start_thread(self, kind: str, run_id: int, series: list[str]) -> None:
        thread = threading.Thread(
            target=self._execute,
            args=(kind, run_id, series),
            name=f"forecaster-run-{run_id}",
            daemon=True,  # never keeps the server from stopping; startup recovers the row
        )
        self._threads[run_id] = thread
        thread.start()

    def _execute(self, kind: str, run_id: int, series: list[str]) -> None:
        try:
            options = self.retrain_options if kind == "retrain" else {}
            _flow(kind)(series=series, database_url=self.database_url, run_id=run_id, **options)
        except BaseException as exc:  # noqa: BLE001 - recorded on the run row, never lost
            logger.exception("run %d (%s) failed", run_id, kind)
            self._fail_if_unfinished(run_id, f"{type(exc).__name__}: {exc}")
        finally:
            self._threads.pop(run_id, None)
            if self.on_finish is not None:
                try:
                    self.on_finish(kind, run_id)
                except Exception:  # noqa: BLE001 - a hook must not hide the run's outcome
                    logger.exception("after run %d: hook failed", run_id)

    def _fail_if_unfinished(self, run_id: int, error: str) -> None:
        """The flow records its own crashes; this covers failing before it got that far."""
        with self.factory.begin() as session:
            run = repo.get_run(session=session, run_id=run_id)
            if run.status in ACTIVE:
                repo.finish_run(session=session, run_id=run_id, status="failed", error=error)

    def running(self) -> int:
        return sum(t.is_alive() for t in list(self._threads.values()))

    def join(self, timeout: float) -> None:
        """Give in-process runs up to `timeout` seconds to finish (at shutdown)."""
        for thread in list(self._threads.values()):
            thread.join(timeout)

    def recover_orphans(self) -> list[int]:
        """Fail in-process runs whose server process on this host is gone (stopped mid-run).

        Without this a retrain interrupted by a restart would block its series (409) forever.
        """
        host, me = socket.gethostname(), os.getpid()
        failed = []
        with self.factory.begin() as session:
            for kind in DEPLOYMENTS:
                for run in repo.active_runs(session=session, kind=kind):
                    executor = run.parameters.get("executor") or {}
                    pid = executor.get("pid")
                    if executor.get("host") != host or not isinstance(pid, int):
                        continue
                    if pid != me and not _alive(pid):
                        repo.finish_run(
                            session=session,
                            run_id=run.id,
                            status="failed",
                            error=f"the API process (pid {pid}) that ran it stopped before it finished",
                        )
                        failed.append(run.id)
        if failed:
            logger.warning("marked interrupted runs as failed: %s", failed)
        return failed

    # --- Prefect deployment -----------------------------------------------------------

    def _deploy(self, kind: str, run_id: int, series: list[str]) -> None:
        """Ask the Prefect server to run the deployment; a worker executes it.

        The database URL is not passed: it may hold a password, and Prefect shows parameters
        in its UI. The worker reads FORECASTER_DATABASE_URL from its own environment.
        """
        from prefect.deployments import run_deployment
        from prefect.settings import PREFECT_API_URL, temporary_settings

        name = DEPLOYMENTS[kind]
        try:
            with temporary_settings({PREFECT_API_URL: self.prefect_api_url}):
                flow_run = run_deployment(
                    name=name,
                    parameters={"series": series, "run_id": run_id},
                    timeout=0,  # return at once; the run row reports progress
                )
        except Exception as exc:  # noqa: BLE001 - recorded on the run row
            logger.exception("run %d: could not start deployment %s", run_id, name)
            self._fail_if_unfinished(
                run_id,
                f"could not start Prefect deployment {name!r} at {self.prefect_api_url}: "
                f"{type(exc).__name__}: {exc}. Is the worker serving it (flows/deploy.py)?",
            )
            return
        assert not inspect.isawaitable(flow_run)  # sync context: the sync implementation ran
        with self.factory.begin() as session:
            run = repo.get_run(session=session, run_id=run_id)
            run.flow_run_id = str(flow_run.id)
