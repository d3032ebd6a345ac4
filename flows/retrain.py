"""Retrain flow: refresh the naive baselines, train the configured candidates per series, backtest
each against the champion and the baselines on the same recent window, register them, promote per
the champion rule (a baseline serves where no model beats it), refresh forecasts.

Each series x candidate (and each group's global model) is its own Prefect task; the task runner
is chosen from the settings when a run starts (flows/runners.py: threads, or Dask). A candidate that fails or is worse never
replaces the champion. Each task only registers its candidate (status "candidate") with the
decision the champion rule would take; once every candidate has finished, one transaction per
series promotes the best winner per strategy and refreshes that series' forecasts: all of a
series' promotions and forecasts commit together, or none do (a run killed part-way leaves
champions and forecasts as they were). The baselines are refreshed first without touching a
champion: a baseline takes its seat when its series commits (versions.seat_baselines).

Nothing outlives its run: the flow polls its run while the tasks train, and once the run is
cancelled or has ended (reaped, failed) it cancels the tasks not yet started; tasks already
training (a thread, or a Dask worker whose flow may be gone) stop at their next checkpoint, each
epoch. Whatever still reaches the database is refused in the transaction that would write it
(app.runs.ensure_active): no version, evaluation or promotion is written once the run ended.
"""

from __future__ import annotations

from collections.abc import Mapping
from logging import Logger, LoggerAdapter
from pathlib import Path
from typing import Any

from prefect import State, flow, task
from prefect.futures import PrefectFuture
from prefect.logging import get_run_logger
from sqlalchemy.orm import Session

from flows import leases, runners
from flows.common import HOOKS, Cancelled, close_run, guarded, open_run, session_factory
from flows.retrain_tasks import RunArgs, train_candidate, train_candidates, train_group_candidate
from forecaster.app.runs import ensure_active
from forecaster.app.training import (
    TrainRequest,
    precompute_forecasts,
    refresh_baselines,
    served_champions,
)
from forecaster.app.versions import promote_best, seat_baselines
from forecaster.champion import Decision
from forecaster.config import Settings, get_settings
from forecaster.db import series as series_db
from forecaster.db.session import transaction
from forecaster.errors import RunEnded
from forecaster.retrain_config import load_retrain_config
from forecaster.retrain_plan import (
    CandidateJob,
    CandidateResult,
    RetrainPlan,
    RetrainResult,
    SeriesCommit,
    decisions_of,
    plan_retrain,
    settle,
)

POLL_S = 1.0  # how often the flow looks at its run while its tasks train


@task(task_run_name="baselines-{job.series_key}-{job.spec.strategy}")
def register_baselines(job: CandidateJob, args: RunArgs) -> dict[str, Any]:
    """The naive and seasonal-naive versions of one series and strategy, on the current data;
    no champion changes until the series commits (`commit_series`)."""
    request = TrainRequest(job.series_key, job.spec, metric=args.metric, origins=args.origins)
    try:
        return refresh_baselines(
            sessions=session_factory(args.database_url),
            request=request,
            run_id=args.run_id,
            apply=False,
        )
    except RunEnded as exc:
        raise leases.RunCancelled(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - the candidates of this strategy will say more
        get_run_logger().warning("%s baselines: %s: %s", job.series_key, type(exc).__name__, exc)
        return {"error": f"{type(exc).__name__}: {exc}"}


@task
def commit_series(
    database_url: str,
    series_key: str,
    decisions: list[Decision],
    run_id: int,
    strategies: tuple[str, ...] = (),
) -> SeriesCommit:
    """Promote the series' winners, seat its refreshed baselines (`strategies`: those this run
    refreshed) and refresh its forecasts in one transaction, only while the run is running."""
    leases.checkpoint(run_id)

    def commit(session: Session) -> SeriesCommit:
        series = series_db.get_series(session=session, key=series_key)
        series_db.lock_series(session=session, ids=[series.id])
        promoted = promote_best(session=session, decisions=decisions)
        for strategy in strategies:  # where no candidate won: the baselines' seats
            seated = seat_baselines(session=session, series_id=series.id, strategy=strategy)
            promoted += [] if seated is None else [seated]
        forecasts = precompute_forecasts(session=session, series_key=series_key)
        # reaped (its lease lapsed) or cancelled meanwhile: promote nothing
        ensure_active(session=session, run_id=run_id, what=f"{series_key}'s promotions")
        return SeriesCommit(tuple(promoted), forecasts)

    try:  # redone whole if the database drops the connection under it (db.session.transaction)
        return transaction(session_factory(database_url), commit)
    except RunEnded as exc:
        raise leases.RunCancelled(str(exc)) from exc


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


@task(task_run_name="baselines-{n}-series")
def register_series_baselines(
    jobs: list[CandidateJob],
    args: RunArgs,
    n: int = 0,  # noqa: ARG001 - names the task run
) -> None:
    """The baselines of `n` series (each series' strategies in turn, in one task)."""
    for job in jobs:
        register_baselines.fn(job, args)


def _refresh_baselines(plan: RetrainPlan, args: RunArgs) -> None:
    """Every series' baselines, as tasks on the run's task runner before any candidate trains.

    They were refreshed one after the other in the flow's process: 31 s of 165 s for 200 series
    on one Dask worker, a part that more workers could not shorten (bench/production.py). A
    series' strategies stay in one task (one writer per series); on a cluster several series
    share a task, as candidates do (flows.runners.chunk_size). On threads they stay in the
    flow's thread, in turn: two threads writing one SQLite file took 154 s against 127 s."""
    if Settings().runner != "dask":
        for job in plan.baselines:
            register_baselines(job, args)
        return
    by_series: dict[str, list[CandidateJob]] = {}
    for job in plan.baselines:
        by_series.setdefault(job.series_key, []).append(job)
    groups = list(by_series.values())
    size = runners.chunk_size(Settings(), len(groups))
    futures: list[PrefectFuture[Any]] = [
        register_series_baselines.submit(
            [job for group in chunk for job in group], args, n=len(chunk)
        )
        for chunk in runners.chunks(groups, size)
    ]
    try:
        _wait_while_running(futures, args.run_id)
        for future in futures:
            future.result()
    except BaseException:  # the run ended, or a task could not run at all: stop the rest
        _cancel(futures)
        raise


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
    try:
        _wait_while_running(futures, args.run_id)
        results = [f.result() for f in singles]
        return results + [r for f in [*batches, *groups] for r in f.result()]
    except BaseException:  # the run ended, or a task could not run at all: stop the rest
        _cancel(futures)
        raise


def _wait_while_running(futures: list[PrefectFuture[Any]], run_id: int) -> None:
    """Wait for every task; RunCancelled as soon as the run is cancelled or has ended."""
    for future in futures:
        wrapped = getattr(future, "wrapped_future", None)  # threads and Dask: a real future
        if wrapped is None:
            future.wait()
            continue
        while not wrapped.done():
            future.wait(timeout=POLL_S)
            if not wrapped.done():
                leases.checkpoint(run_id)


def _cancel(futures: list[PrefectFuture[Any]]) -> None:
    """Cancel the tasks not yet started (queued threads, Dask tasks); those already training
    stop at their next checkpoint, which reads the run (flows.leases)."""
    for future in futures:
        wrapped = getattr(future, "wrapped_future", None)
        if wrapped is not None and not wrapped.done():
            wrapped.cancel()


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
) -> RetrainResult | State[Cancelled]:
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
    _refresh_baselines(plan, args)  # first: calibrated for the longest candidate of each strategy
    results = _train(plan, args)
    leases.checkpoint(run_id)  # cancelled: nothing of this run is promoted
    commits = {
        key: commit_series(
            database_url,
            key,
            decisions_of(results, key),
            run_id,
            tuple(job.spec.strategy for job in plan.baselines if job.series_key == key),
        )
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
