"""The retrain flow's training tasks: one candidate, several in one task (a Dask cluster's
chunks), or one global model across a group. Each runs wherever the task runner puts it (a
thread, a Dask worker process), opens its own engine there and registers what it trained.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from prefect import task
from sqlalchemy.orm import Session, sessionmaker

from flows import leases, runners
from flows.common import session_factory
from forecaster.app.failures import record_failure, record_global_failure
from forecaster.app.training import (
    TrainRequest,
    train_group,
    train_series,
)
from forecaster.config import get_settings
from forecaster.db import series as series_db
from forecaster.errors import RunEnded
from forecaster.retrain_plan import (
    CandidateJob,
    CandidateResult,
    GroupJob,
    Placement,
)

POLL_S = 1.0  # how often the flow looks at its run while its tasks train


@dataclass(frozen=True)
class RunArgs:
    """What every task of one retrain run gets: the database (each task opens its own engine
    there, a Dask worker included), the run, the champion rule's metric and window, and the
    torch threads per task the flow worked out (None: each worker uses its own share)."""

    database_url: str
    run_id: int
    metric: str
    origins: int
    threads: int | None = None


@task(task_run_name="train-{job.series_key}-{job.spec.architecture}-{job.spec.strategy}")
def train_candidate(job: CandidateJob, args: RunArgs) -> CandidateResult:
    """Train, register and judge one candidate (`train_one`)."""
    return train_one(job, args)


@task(task_run_name="train-{n}-candidates")
def train_candidates(
    jobs: list[CandidateJob],
    args: RunArgs,
    n: int = 0,  # noqa: ARG001 - names the task run
) -> list[CandidateResult]:
    """Several candidates in one task, one after another (`train_one` each): how a Dask cluster
    gets small candidates (flows.runners.chunk_size)."""
    return [train_one(job, args) for job in jobs]


def _executor(args: RunArgs) -> tuple[int, Placement]:
    """The torch threads for the task running now, and where it runs (for the run's result)."""
    n_threads = runners.task_threads(args.threads or get_settings().torch_threads or None)
    return n_threads, runners.where(n_threads)


def train_one(job: CandidateJob, args: RunArgs) -> CandidateResult:
    """Train, register and judge one candidate (the decision is applied when its series
    commits); a crash is recorded as a failed version.

    Runs wherever the task runner puts it (a thread, a Dask worker process): it opens its own
    engine there and reads the device and torch threads from the settings of the machine it
    trains on.
    """
    sessions = session_factory(args.database_url)
    spec, run_id = job.spec, args.run_id
    n_threads, executor = _executor(args)
    base = CandidateResult(
        job.series_key, spec.architecture, spec.strategy, None, False, "", executor=executor
    )
    try:
        leases.checkpoint(run_id, sessions)
        decision = train_series(
            sessions=sessions,
            request=TrainRequest(job.series_key, spec, metric=args.metric, origins=args.origins),
            run_id=run_id,
            threads=n_threads,
            device=get_settings().device,
            apply=False,
            progress=lambda _epoch: leases.checkpoint(run_id, sessions),  # a cancel stops the fit
        )
    except (leases.RunCancelled, RunEnded) as exc:  # the run ended: nothing was registered
        return replace(base, cancelled=True, reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - recorded on the run and as a failed version
        error = f"{type(exc).__name__}: {exc}"  # the traceback is in the worker's log
        try:
            with sessions.begin() as session:
                version = record_failure(
                    session=session,
                    series_id=series_db.get_series(session=session, key=job.series_key).id,
                    architecture=spec.architecture,
                    strategy=spec.strategy,
                    spec=spec.to_dict(),
                    error=error,
                    run_id=run_id,
                )
        except RunEnded as ended:
            return replace(base, cancelled=True, reason=str(ended))
        return replace(base, version_id=version.id, failed=True, reason=error)
    return CandidateResult.trained(job.series_key, spec.architecture, decision, executor=executor)


@task(task_run_name="train-global-{job.group}-{job.spec.architecture}-{job.spec.strategy}")
def train_group_candidate(job: GroupJob, args: RunArgs) -> list[CandidateResult]:
    """Train one global model across the group's members and register it once, with a version
    per member judged for that member's champion; a crash is a failed version of every member."""
    sessions = session_factory(args.database_url)
    spec, run_id = job.spec, args.run_id
    n_threads, executor = _executor(args)
    try:
        leases.checkpoint(run_id, sessions)
        global_id, decisions = train_group(
            sessions=sessions,
            group=job.group,
            members=list(job.members),
            spec=spec,
            embedding_dim=job.embedding_dim,
            metric=args.metric,
            origins=args.origins,
            run_id=run_id,
            threads=n_threads,
            device=get_settings().device,
            apply=False,
            progress=lambda _epoch: leases.checkpoint(run_id, sessions),
        )
    except (leases.RunCancelled, RunEnded) as exc:
        return _group_failures(job, executor, dict.fromkeys(job.members), str(exc))
    except Exception as exc:  # noqa: BLE001 - recorded on the run and as failed versions
        error = f"{type(exc).__name__}: {exc}"
        try:
            return _record_group_failure(job, sessions, run_id, executor, error)
        except RunEnded as ended:
            return _group_failures(job, executor, dict.fromkeys(job.members), str(ended))
    return [
        CandidateResult.trained(
            key,
            spec.architecture,
            d,
            executor=executor,
            group=job.group,
            global_model_id=global_id,
        )
        for key, d in decisions.items()
    ]


def _record_group_failure(
    job: GroupJob,
    sessions: sessionmaker[Session],
    run_id: int,
    executor: Placement,
    error: str,
) -> list[CandidateResult]:
    """A global model that crashed: a failed version of every member, pointing at its row."""
    spec = job.spec
    with sessions.begin() as session:
        failed = record_global_failure(
            session=session, group=job.group, members=job.members, spec=spec, run_id=run_id
        )
        ids = {
            key: record_failure(
                session=session,
                series_id=series_db.get_series(session=session, key=key).id,
                architecture=spec.architecture,
                strategy=spec.strategy,
                spec=spec.to_dict(),
                error=error,
                run_id=run_id,
                global_model_id=failed.id,
            ).id
            for key in job.members
        }
    return _group_failures(job, executor, ids, error)


def _group_failures(
    job: GroupJob, executor: Placement, ids: Mapping[str, int | None], reason: str
) -> list[CandidateResult]:
    """Each member's result of a global model that did not train: failed where a version was
    recorded (`ids`), else cancelled."""
    spec = job.spec
    return [
        CandidateResult(
            key, spec.architecture, spec.strategy, ids[key], False, reason,
            executor=executor, failed=ids[key] is not None, cancelled=ids[key] is None,
            group=job.group,
        )
        for key in job.members
    ]  # fmt: skip
