"""Retrain flow: refresh the naive baselines, train the configured candidates per series, backtest
each against the champion and the baselines on the same recent window, register them, promote per
the champion rule (a baseline serves where no model beats it), refresh forecasts.

Each series x candidate (and each group's global model) is its own Prefect task; the task runner
is chosen from the settings when a run starts (flows/runners.py: threads, or Dask). A candidate that fails or is worse never
replaces the champion. Each task only registers its candidate (status "candidate") with the
decision the champion rule would take; once every candidate has finished, one transaction per
series promotes the best winner per strategy and refreshes that series' forecasts: all of a
series' promotions and forecasts commit together, or none do (a run killed part-way leaves
champions and forecasts as they were). Cancellation is checked before each candidate and
before each series commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from logging import Logger, LoggerAdapter
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.futures import PrefectFuture, wait
from prefect.logging import get_run_logger

from flows import leases, runners
from flows.common import HOOKS, Cancelled, close_run, guarded, open_run, session_factory
from forecaster.app.failures import record_failure, record_global_failure
from forecaster.app.training import (
    TrainRequest,
    precompute_forecasts,
    refresh_baselines,
    served_champions,
    train_group,
    train_series,
)
from forecaster.app.versions import promote_best
from forecaster.champion import Decision
from forecaster.config import Settings, get_settings
from forecaster.db import runs as runs_db
from forecaster.db import series as series_db
from forecaster.retrain_config import load_retrain_config
from forecaster.retrain_plan import (
    CandidateJob,
    CandidateResult,
    GroupJob,
    Placement,
    RetrainPlan,
    RetrainResult,
    SeriesCommit,
    decisions_of,
    plan_retrain,
    settle,
)


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
    except leases.RunCancelled as exc:
        return replace(base, cancelled=True, reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - recorded on the run and as a failed version
        error = f"{type(exc).__name__}: {exc}"  # the traceback is in the worker's log
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
    except leases.RunCancelled as exc:
        return _group_failures(job, executor, dict.fromkeys(job.members), str(exc))
    except Exception as exc:  # noqa: BLE001 - recorded on the run and as failed versions
        error = f"{type(exc).__name__}: {exc}"
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


@task(task_run_name="baselines-{job.series_key}-{job.spec.strategy}")
def register_baselines(job: CandidateJob, args: RunArgs) -> dict[str, Any]:
    """The naive and seasonal-naive versions of one series and strategy, on the current data."""
    request = TrainRequest(job.series_key, job.spec, metric=args.metric, origins=args.origins)
    try:
        return refresh_baselines(
            sessions=session_factory(args.database_url), request=request, run_id=args.run_id
        )
    except Exception as exc:  # noqa: BLE001 - the candidates of this strategy will say more
        get_run_logger().warning("%s baselines: %s: %s", job.series_key, type(exc).__name__, exc)
        return {"error": f"{type(exc).__name__}: {exc}"}


@task
def commit_series(
    database_url: str, series_key: str, decisions: list[Decision], run_id: int
) -> SeriesCommit:
    """Promote the series' winners and refresh its forecasts in one transaction."""
    leases.checkpoint(run_id)
    with session_factory(database_url).begin() as session:
        series_db.lock_series(session=session, keys=[series_key])
        status = runs_db.get_run(session=session, run_id=run_id).status
        if status != "running":  # reaped (its lease lapsed) or cancelled: promote nothing
            raise leases.RunCancelled(f"run {run_id} is {status}; its candidates are not promoted")
        promoted = promote_best(session=session, decisions=decisions)
        forecasts = precompute_forecasts(session=session, series_key=series_key)
    return SeriesCommit(tuple(promoted), forecasts)


def _plan(
    database_url: str, series: list[str] | None, config_path: str | None, quick: bool
) -> RetrainPlan:
    """Read the retrain config and the series to retrain (all when none are named); plan."""
    settings = get_settings()
    path = config_path or (str(settings.retrain_config) if settings.retrain_config else None)
    config = load_retrain_config(Path(path) if path else None)
    with session_factory(database_url).begin() as session:
        rows = (
            [series_db.get_series(session=session, key=k) for k in series]
            if series
            else series_db.list_series(session=session)
        )
        pairs = [(s.key, s.frequency) for s in rows]
    return plan_retrain(config, pairs, quick=quick)


def _train(plan: RetrainPlan, args: RunArgs) -> list[CandidateResult]:
    """Every candidate and global model of the plan, as tasks; their results once all are done."""
    jobs = list(plan.candidates)
    size = runners.chunk_size(Settings(), len(jobs))
    # a task per candidate (threads, or a cluster with few candidates)
    singles = [train_candidate.submit(job, args) for job in (jobs if size == 1 else [])]
    batches = [  # several candidates a task on a cluster (flows.runners.chunk_size)
        train_candidates.submit(chunk, args, n=len(chunk))
        for chunk in (runners.chunks(jobs, size) if size > 1 else [])
    ]
    groups = [train_group_candidate.submit(job, args) for job in plan.groups]
    futures: list[PrefectFuture[Any]] = [*singles, *batches, *groups]
    wait(futures)
    results = [f.result() for f in singles]
    return results + [r for f in [*batches, *groups] for r in f.result()]


def _log(logger: Logger | LoggerAdapter[Logger], results: list[CandidateResult]) -> None:
    for r in results:
        logger.info("%s: %s", r.label, r.reason)
        for notice in r.notices:
            logger.warning("%s: %s", r.label, notice)


@flow(
    name="retrain",
    task_runner=runners.FromSettings(),  # threads or Dask, from the settings of each run
    **HOOKS,
)
def retrain(
    series: list[str] | None = None,
    database_url: str | None = None,
    run_id: int | None = None,
    config_path: str | None = None,
    quick: bool = False,
    threads: int | None = None,
) -> RetrainResult | Cancelled:
    """Retrain `series` (all when empty) with the candidates of the retrain config."""
    url = database_url or get_settings().database_url  # the URL travels to the tasks
    factory = session_factory(url)
    run = open_run(factory, "retrain", run_id, {"series": series or [], "quick": quick})
    return guarded(
        factory,
        run,
        lambda: _retrain(url, run, series, config_path=config_path, quick=quick, threads=threads),
    )


def _retrain(
    database_url: str,
    run_id: int,
    series: list[str] | None,
    *,
    config_path: str | None,
    quick: bool,
    threads: int | None,
) -> RetrainResult:
    """Plan, train every candidate as a task, commit each series, close the run."""
    logger = get_run_logger()
    plan = _plan(database_url, series, config_path, quick)
    for name, n in plan.skipped_groups:  # a run touches only its own series' champions
        logger.info("group %s: %d of its series in this run; not trained", name, n)
    share = threads or get_settings().torch_threads or runners.flow_share(Settings())
    args = RunArgs(database_url, run_id, plan.metric, plan.origins, share)
    for job in plan.baselines:  # first: calibrated for the longest candidate of each strategy
        register_baselines(job, args)
    results = _train(plan, args)
    leases.checkpoint(run_id)  # cancelled: nothing of this run is promoted
    commits = {
        key: commit_series(database_url, key, decisions_of(results, key), run_id)
        for key in plan.series
    }
    results = settle(results, {v for c in commits.values() for v in c.promoted})
    _log(logger, results)
    result = RetrainResult(
        run_id,
        tuple(results),
        forecasts={key: c.forecasts for key, c in commits.items()},
        served=_served(database_url, plan.series),
    )
    # Some candidates failing while others trained is still a failed run: its reason says which.
    close_run(
        session_factory(database_url),
        run_id,
        ok=not result.failed,
        result=result.record(),
        error=result.error,
    )
    return result


def _served(database_url: str, keys: tuple[str, ...]) -> tuple[Mapping[str, Any], ...]:
    with session_factory(database_url).begin() as session:
        return tuple(served_champions(session=session, series_keys=list(keys)))
