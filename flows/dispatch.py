"""How a run requested over HTTP is executed. Either way it is a flow run of the deployment
("ingest/ingest", "retrain/retrain"; flows/schedules.py) that the schedules also use:

- embedded default: the flow run is created from the deployment on the project's Prefect server
  and executed by a thread of this process (no worker poll, no subprocess, no imports per run:
  the 3 s overhead target holds), while `forecaster serve` serves the same deployments for the
  schedules (flows.server.schedule_worker);
- production (FORECASTER_PREFECT_API_URL): the flow run is created Scheduled and a worker
  (`python -m flows.deploy`) executes it.

The run row is created first (status "pending") and the flow receives its id, so the row
records the whole life of the run: who asked, when it started and finished, what it produced.
Before that, the Prefect server the run will report to must answer /api/ready: when it does
not, `submit` raises Unavailable (HTTP 503, Retry-After) and creates no row, rather than
accepting a run that would fail within seconds and leave a failed row as noise.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session, sessionmaker

from flows.logs import keeping_logging
from flows.schedules import DEPLOYMENTS, crons, scheduled_deployment
from flows.server import pid_alive, require_prefect
from forecaster.app import runs
from forecaster.config import Settings
from forecaster.db import runs as runs_db
from forecaster.errors import Unavailable

logger = logging.getLogger(__name__)

KINDS = ("ingest", "retrain")  # the run kinds started here; their deployments: flows/schedules.py
ACTIVE = ("pending", "running")


def _flow(kind: str) -> Callable[..., Any]:
    """The flow function, imported on first use (importing Prefect flows is slow)."""
    with keeping_logging():
        if kind == "ingest":
            from flows.ingest import ingest

            return ingest
        if kind == "retrain":
            from flows.retrain import retrain

            return retrain
    raise ValueError(f"no flow for run kind {kind!r}")


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
        policy: runs.LeasePolicy | None = None,
        schedules: Mapping[str, str] | None = None,
    ) -> None:
        """`policy` (run leases and caps) and `schedules` (the cron of each deployment this
        registers when the Prefect server lacks it) default to the environment's settings."""
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
        self._deployment_ids: dict[str, UUID] = {}  # kind -> deployment id on the local server
        self.on_finish = on_finish  # (kind, run id) after an in-process run, success or not
        if policy is None or schedules is None:
            here = Settings()  # the environment now
            policy = policy or runs.LeasePolicy.from_settings(here)
            schedules = schedules or crons(here)
        self.policy = policy
        self.schedules = dict(schedules)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        factory: sessionmaker[Session],
        database_url: str | None = None,
        retrain_config: Path | None = None,
        on_finish: Callable[[str, int], None] | None = None,
    ) -> Dispatcher:
        """A dispatcher that follows `settings` (`database_url` and `retrain_config` override)."""
        return cls(
            factory=factory,
            database_url=database_url or settings.database_url,
            prefect_api_url=settings.prefect_api_url,
            retrain_config=retrain_config or settings.retrain_config,
            torch_threads=settings.torch_threads,
            on_finish=on_finish,
            policy=runs.LeasePolicy.from_settings(settings),
            schedules=crons(settings),
        )

    @property
    def mode(self) -> str:
        return "deployment" if self.prefect_api_url else "thread"

    def submit(
        self,
        *,
        kind: str,
        series: list[str],
        options: dict[str, Any] | None = None,
        trigger: str = "api",
        reason: str | None = None,
    ) -> int:
        """Record a pending run and start it in the background; returns the run id.

        Raises:
            Unavailable: the Prefect server does not answer; no run was recorded.
            UnknownSeries: a key in `series` is not registered.
            RunInProgress: a retrain touching one of these series is pending or running.
        """
        series = list(dict.fromkeys(series))  # drop repeats, keep order
        require_prefect(self.orchestrator_url())  # before any row: none is left as noise
        with self._lock, self.factory.begin() as session:
            # in-process: this process runs it; a deployment's worker is not known yet
            executor = (
                runs.Executor.here().to_json(self.mode)
                if self.mode == "thread"
                else {"mode": self.mode}
            )
            run_id = runs.claim(
                session=session,
                kind=kind,
                series=series,
                parameters={"series": series, "executor": executor, **(options or {})},
                policy=self.policy,
                exclusive=kind in runs.EXCLUSIVE,
                trigger=trigger,
                reason=reason,
            ).id
        if self.mode == "deployment":
            self._deploy(kind, run_id, series, options or {})
        else:
            self._start_thread(kind, run_id, series, options or {})
        return run_id

    def orchestrator_url(self) -> str | None:
        """The API of the Prefect server this process's runs report to: the deployments' server,
        else the one Prefect's settings name (the project's own, `forecaster serve`); None: a
        flow would start a temporary server of its own."""
        if self.prefect_api_url:
            return self.prefect_api_url
        if "prefect.settings" in sys.modules:  # loaded: its settings may be a test's or a
            from prefect.settings import PREFECT_API_URL  # context's, not the environment's

            return PREFECT_API_URL.value() or None
        return os.environ.get("PREFECT_API_URL") or None

    def reap(self) -> list[int]:
        """Fail runs whose lease lapsed or that waited too long for a worker (periodic); the
        Prefect flow run of each (when the row records one) is marked Crashed, so a run whose
        process died does not show Running in Prefect for ever."""
        with self.factory.begin() as session:
            reaped = runs.reap(session=session, policy=self.policy)
            ended = [
                (run.id, str(run.flow_run_id), run.error or "")
                for run_id in reaped
                if (run := runs_db.get_run(session=session, run_id=run_id)).flow_run_id
            ]
        if ended:
            with keeping_logging():  # flows.common imports Prefect: only when there is one
                from flows.common import crash_flow_runs

                crash_flow_runs(ended, self.prefect_api_url)
        return reaped

    # --- in-process -------------------------------------------------------------------

    def _start_thread(
        self, kind: str, run_id: int, series: list[str], options: dict[str, Any]
    ) -> None:
        thread = threading.Thread(
            target=self._execute,
            args=(kind, run_id, series, options),
            name=f"forecaster-run-{run_id}",
            daemon=True,  # never keeps the server from stopping; startup recovers the row
        )
        self._threads[run_id] = thread
        thread.start()

    def _deployment_id(self, kind: str) -> UUID:
        """The id of `kind`'s deployment on the Prefect server this process reports to; the
        deployment is registered (with its schedule) when no runner has done so yet."""
        if kind not in self._deployment_ids:
            from prefect.client.orchestration import get_client
            from prefect.exceptions import ObjectNotFound

            with get_client(sync_client=True) as client:
                try:
                    deployment = client.read_deployment_by_name(DEPLOYMENTS[kind])
                    self._deployment_ids[kind] = deployment.id
                except ObjectNotFound:
                    self._deployment_ids[kind] = scheduled_deployment(
                        _flow(kind), kind, self.schedules[kind]
                    ).apply()
        return self._deployment_ids[kind]

    def _deployment_flow_run(
        self, kind: str, run_id: int, series: list[str], options: dict[str, Any]
    ) -> Any:
        """A flow run of `kind`'s deployment, Pending (no worker picks it up: this process runs
        it), recorded on the run row; None when the Prefect server cannot be reached, and then
        the flow runs as a plain flow run (still recorded by the same server if it comes back).
        """
        from prefect.client.orchestration import get_client
        from prefect.states import Pending

        try:
            deployment_id = self._deployment_id(kind)
            with get_client(sync_client=True) as client:
                flow_run = client.create_flow_run_from_deployment(
                    deployment_id,
                    parameters={"series": series, "run_id": run_id, **options},
                    state=Pending(),
                    tags=["api"],
                )
        except Exception as exc:  # noqa: BLE001 - the run still runs, outside the deployment
            self._deployment_ids.pop(kind, None)
            logger.warning(
                "run %d: no flow run of deployment %s (%s: %s); running it as a plain flow run",
                run_id,
                DEPLOYMENTS[kind],
                type(exc).__name__,
                exc,
            )
            return None
        with self.factory.begin() as session:
            runs_db.get_run(session=session, run_id=run_id).flow_run_id = str(flow_run.id)
        return flow_run

    def _execute(
        self,
        kind: str,
        run_id: int,
        series: list[str],
        extra: dict[str, Any],
    ) -> None:
        try:
            # here, not in the request: the first lookup imports the flows and may register them
            with keeping_logging():  # it may be this process's first import of Prefect
                flow_run = self._deployment_flow_run(kind, run_id, series, extra)
            options = {**self.retrain_options, **extra} if kind == "retrain" else {}
            parameters = {
                "series": series,
                "database_url": self.database_url,
                "run_id": run_id,
                **options,
            }
            flow = _flow(kind)  # imports Prefect's flow machinery with logging kept
            if flow_run is None:
                flow(**parameters)
            else:
                with keeping_logging():
                    from prefect.flow_engine import run_flow

                # the deployment's flow run, executed here; its stored parameters exclude the
                # database URL (it may hold a password and Prefect shows parameters in its UI)
                run_flow(flow, flow_run=flow_run, parameters=parameters)  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001 - recorded on the run row, never lost
            if type(exc).__name__ in ("CancelledRun", "FailedRun"):  # our state: row is ended
                logger.info("run %d (%s) ended: %s", run_id, kind, exc)
            else:
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
            run = runs_db.get_run(session=session, run_id=run_id)
            if run.status in ACTIVE:
                runs_db.finish_run(session=session, run_id=run_id, status="failed", error=error)

    def running(self) -> int:
        return sum(t.is_alive() for t in list(self._threads.values()))

    def join(self, timeout: float) -> None:
        """Give in-process runs `timeout` seconds in all to finish (at shutdown), then end the
        rows of those still going: their threads are daemons and stop with the process."""
        deadline = time.monotonic() + timeout
        for thread in list(self._threads.values()):
            thread.join(max(0.0, deadline - time.monotonic()))
        left = [run_id for run_id, t in list(self._threads.items()) if t.is_alive()]
        for run_id in left:
            self._fail_if_unfinished(run_id, "the server stopped before the run finished")

    def recover_orphans(self) -> list[int]:
        """Fail in-process runs whose server process on this host is gone (stopped mid-run).

        Without this a retrain interrupted by a restart would block its series (409) forever.
        """
        here = runs.Executor.here()
        host, me = here.host, here.pid
        failed = []
        with self.factory.begin() as session:
            for kind in KINDS:
                for run in runs_db.active_runs(session=session, kind=kind):
                    executor = run.parameters.get("executor") or {}
                    pid = executor.get("pid")
                    if executor.get("host") != host or not isinstance(pid, int):
                        continue
                    if pid != me and not pid_alive(pid):
                        runs_db.finish_run(
                            session=session,
                            run_id=run.id,
                            status="failed",
                            error=(
                                f"the process that ran it (pid {pid} on this host) is gone: "
                                "it was killed or crashed before the run finished"
                            ),
                        )
                        failed.append(run.id)
        if failed:
            logger.warning("marked interrupted runs as failed: %s", failed)
        return failed

    # --- Prefect deployment -----------------------------------------------------------

    def _deploy(self, kind: str, run_id: int, series: list[str], options: dict[str, Any]) -> None:
        """Ask the Prefect server to run the deployment; a worker executes it.

        The database URL is not passed: it may hold a password, and Prefect shows parameters
        in its UI. The worker reads FORECASTER_DATABASE_URL from its own environment.
        """
        with keeping_logging():
            from prefect.deployments import run_deployment
            from prefect.settings import PREFECT_API_URL, temporary_settings

        name = DEPLOYMENTS[kind]
        try:
            with temporary_settings({PREFECT_API_URL: self.prefect_api_url}):
                flow_run = run_deployment(
                    name=name,
                    parameters={"series": series, "run_id": run_id, **options},
                    timeout=0,  # return at once; the run row reports progress
                )
        except Exception as exc:  # noqa: BLE001 - recorded on the run row, then a 503
            logger.exception("run %d: could not start deployment %s", run_id, name)
            self._fail_if_unfinished(
                run_id,
                f"could not start Prefect deployment {name!r}: {type(exc).__name__}; is the "
                "Prefect server up and a worker serving the deployments (flows/deploy.py)?",
            )
            raise Unavailable(
                f"run {run_id} could not start: the Prefect server did not accept deployment "
                f"{name!r} ({type(exc).__name__}); the run is recorded as failed and nothing "
                "else was changed. Try again when the server is up."
            ) from exc
        assert not inspect.isawaitable(flow_run)  # sync context: the sync implementation ran
        with self.factory.begin() as session:
            run = runs_db.get_run(session=session, run_id=run_id)
            run.flow_run_id = str(flow_run.id)
