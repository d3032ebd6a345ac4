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

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.futures import wait
from prefect.logging import get_run_logger

from flows import runners
from flows.common import HOOKS, close_run, guarded, open_run, session_factory
from forecaster import runs
from forecaster.config import Settings, get_settings
from forecaster.db import runs as runs_db
from forecaster.db import series as series_db
from forecaster.forecasting import ModelSpec
from forecaster.registry import promote_best, record_failure, record_global_failure
from forecaster.retrain_config import load_retrain_config
from forecaster.service import (
    TrainRequest,
    precompute_forecasts,
    refresh_baselines,
    served_champions,
    train_group,
    train_series,
)


@task(task_run_name="train-{series_key}-{spec_dict[architecture]}-{spec_dict[strategy]}")
def train_candidate(
    database_url: str | None,
    series_key: str,
    spec_dict: dict[str, Any],
    run_id: int,
    metric: str,
    origins: int,
    threads: int | None = None,
) -> dict[str, Any]:
    """Train, register and maybe promote one candidate (`train_one`)."""
    return train_one(database_url, series_key, spec_dict, run_id, metric, origins, threads)


@task(task_run_name="train-{n}-candidates")
def train_candidates(
    database_url: str | None,
    jobs: list[tuple[str, dict[str, Any]]],
    run_id: int,
    metric: str,
    origins: int,
    threads: int | None = None,
    n: int = 0,  # noqa: ARG001 - names the task run
) -> list[dict[str, Any]]:
    """Several (series, spec) candidates in one task, one after another (`train_one` each): how
    a Dask cluster gets small candidates (flows.runners.chunk_size)."""
    return [
        train_one(database_url, key, spec_dict, run_id, metric, origins, threads)
        for key, spec_dict in jobs
    ]


def train_one(
    database_url: str | None,
    series_key: str,
    spec_dict: dict[str, Any],
    run_id: int,
    metric: str,
    origins: int,
    threads: int | None = None,
) -> dict[str, Any]:
    """Train, register and maybe promote one candidate; a crash is recorded as a failed version.

    Runs wherever the task runner puts it (a thread, a Dask worker process): it gets the
    database URL, opens its own engine there, and reads the device and torch threads from the
    settings of the machine it trains on.
    """
    sessions = session_factory(database_url)
    spec = ModelSpec.from_dict(spec_dict)
    request = TrainRequest(series_key, spec, metric=metric, origins=origins)
    base: dict[str, Any] = {
        "series": series_key,
        "architecture": spec.architecture,
        "strategy": spec.strategy,
    }
    here = get_settings()
    n_threads = runners.task_threads(threads or here.torch_threads or None)
    base["executor"] = {**runners.where(), "torch_threads": n_threads}
    try:
        runs.checkpoint(run_id, sessions)
        decision = train_series(
            sessions=sessions,
            request=request,
            run_id=run_id,
            threads=n_threads,
            device=here.device,
            apply=False,
            progress=lambda _epoch: runs.checkpoint(run_id, sessions),  # a cancel stops the fit
        )
    except runs.RunCancelled as exc:
        return {**base, "version_id": None, "promoted": False, "failed": False,
                "cancelled": True, "reason": str(exc)}  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - recorded on the run and as a failed version
        error = f"{type(exc).__name__}: {exc}"
        with sessions.begin() as session:
            series = series_db.get_series(session=session, key=series_key)
            version = record_failure(
                session=session,
                series_id=series.id,
                architecture=spec.architecture,
                strategy=spec.strategy,
                spec=spec.to_dict(),
                error=error,
                run_id=run_id,
            )
        return {**base, "version_id": version.id, "promoted": False, "failed": True,
                "reason": error}  # fmt: skip  # the traceback is in the worker's log
    return {**base, "failed": False, **decision.as_dict()}


@task(task_run_name="train-global-{group}-{spec_dict[architecture]}-{spec_dict[strategy]}")
def train_group_candidate(
    database_url: str,
    group: str,
    members: list[str],
    spec_dict: dict[str, Any],
    embedding_dim: int,
    run_id: int,
    metric: str,
    origins: int,
    threads: int | None = None,
) -> list[dict[str, Any]]:
    """Train one global model across the group's members and register it once, with a version
    per member judged for that member's champion; a crash is a failed version of every member."""
    sessions = session_factory(database_url)
    spec = ModelSpec.from_dict(spec_dict)
    here = get_settings()
    n_threads = runners.task_threads(threads or here.torch_threads or None)
    base: dict[str, Any] = {
        "architecture": spec.architecture,
        "strategy": spec.strategy,
        "group": group,
        "executor": {**runners.where(), "torch_threads": n_threads},
    }
    try:
        runs.checkpoint(run_id, sessions)
        global_id, decisions = train_group(
            sessions=sessions,
            group=group,
            members=members,
            spec=spec,
            embedding_dim=embedding_dim,
            metric=metric,
            origins=origins,
            run_id=run_id,
            threads=n_threads,
            device=here.device,
            apply=False,
            progress=lambda _epoch: runs.checkpoint(run_id, sessions),
        )
    except runs.RunCancelled as exc:
        return [{**base, "series": key, "version_id": None, "promoted": False, "failed": False,
                 "cancelled": True, "reason": str(exc)} for key in members]  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - recorded on the run and as failed versions
        error = f"{type(exc).__name__}: {exc}"
        out = []
        with sessions.begin() as session:
            failed = record_global_failure(
                session=session, group=group, members=members, spec=spec, run_id=run_id
            )
            for key in members:
                version = record_failure(
                    session=session,
                    series_id=series_db.get_series(session=session, key=key).id,
                    architecture=spec.architecture,
                    strategy=spec.strategy,
                    spec=spec.to_dict(),
                    error=error,
                    run_id=run_id,
                    global_model_id=failed.id,
                )
                out.append({**base, "series": key, "version_id": version.id, "promoted": False,
                            "failed": True, "reason": error})  # fmt: skip
        return out
    return [
        {**base, "series": key, "failed": False, "global_model_id": global_id, **d.as_dict()}
        for key, d in decisions.items()
    ]


def _label(r: dict[str, Any]) -> str:
    """How logs and the run's error name a candidate: "AAPL lstm/direct (global stocks)"."""
    group = f" (global {r['group']})" if r.get("group") else ""
    return f"{r['series']} {r['architecture']}/{r['strategy']}{group}"


@task(task_run_name="baselines-{series_key}-{spec_dict[strategy]}")
def register_baselines(
    database_url: str | None,
    series_key: str,
    spec_dict: dict[str, Any],
    run_id: int,
    metric: str,
    origins: int,
) -> dict[str, Any]:
    """The naive and seasonal-naive versions of one series and strategy, on the current data."""
    request = TrainRequest(
        series_key, ModelSpec.from_dict(spec_dict), metric=metric, origins=origins
    )
    try:
        return refresh_baselines(
            sessions=session_factory(database_url), request=request, run_id=run_id
        )
    except Exception as exc:  # noqa: BLE001 - the candidates of this strategy will say more
        get_run_logger().warning("%s baselines: %s: %s", series_key, type(exc).__name__, exc)
        return {"error": f"{type(exc).__name__}: {exc}"}


def _served(database_url: str | None, keys: list[str]) -> list[dict[str, Any]]:
    with session_factory(database_url).begin() as session:
        return served_champions(session=session, series_keys=keys)


@task
def commit_series(
    database_url: str | None, series_key: str, results: list[dict[str, Any]], run_id: int
) -> dict[str, Any]:
    """Promote the series' winners and refresh its forecasts in one transaction."""
    runs.checkpoint(run_id)
    with session_factory(database_url).begin() as session:
        series_db.lock_series(session=session, keys=[series_key])
        status = runs_db.get_run(session=session, run_id=run_id).status
        if status != "running":  # reaped (its lease lapsed) or cancelled: promote nothing
            raise runs.RunCancelled(f"run {run_id} is {status}; its candidates are not promoted")
        promoted = promote_best(session=session, decisions=results)
        forecasts = precompute_forecasts(session=session, series_key=series_key)
    return {"promoted": promoted, "forecasts": forecasts}


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
) -> dict[str, Any]:
    """Retrain `series` (all when empty) with the candidates of the retrain config."""
    logger = get_run_logger()
    database_url = database_url or get_settings().database_url  # the URL travels to the tasks
    factory = session_factory(database_url)
    run_id = open_run(factory, "retrain", run_id, {"series": series or [], "quick": quick})

    def body() -> dict[str, Any]:
        settings = get_settings()
        path = config_path or (str(settings.retrain_config) if settings.retrain_config else None)
        config = load_retrain_config(Path(path) if path else None)
        n_threads = threads or settings.torch_threads or runners.flow_share(Settings())
        with factory.begin() as session:
            rows = (
                [series_db.get_series(session=session, key=k) for k in series]
                if series
                else series_db.list_series(session=session)
            )
            jobs = [(s.key, s.frequency) for s in rows]
        groups = {name: g.members(jobs) for name, g in config.groups.items()}
        for name, members in list(groups.items()):
            if len(members) < 2:  # a run touches only its own series' champions
                logger.info(
                    "group %s: %d of its series in this run; not trained", name, len(members)
                )
                del groups[name]
        freq_of = dict(jobs)
        group_specs = {
            name: config.group_specs(name, freq_of[members[0]], quick=quick)
            for name, members in groups.items()
        }
        # the baselines first, one per series and strategy, calibrated for the longest candidate
        for key, freq in jobs:
            longest: dict[str, ModelSpec] = {}
            grouped = [s for g, m in groups.items() if key in m for s in group_specs[g]]
            for spec in [*config.specs(key, freq, quick=quick), *grouped]:
                if spec.horizon > getattr(longest.get(spec.strategy), "horizon", 0):
                    longest[spec.strategy] = spec
            for spec in longest.values():
                register_baselines(
                    database_url,
                    key,
                    spec.to_dict(),
                    run_id,
                    config.metric,
                    config.backtest_origins,
                )
        candidates = [
            (key, spec.to_dict())
            for key, freq in jobs
            for spec in config.specs(key, freq, quick=quick)
        ]
        size = runners.chunk_size(Settings(), len(candidates))
        singles = [  # a task per candidate (threads, or a cluster with few candidates)
            train_candidate.submit(
                database_url,
                key,
                spec_dict,
                run_id,
                config.metric,
                config.backtest_origins,
                n_threads,
            )
            for key, spec_dict in (candidates if size == 1 else [])
        ]
        batches = [  # several candidates a task on a cluster (flows.runners.chunk_size)
            train_candidates.submit(
                database_url,
                chunk,
                run_id,
                config.metric,
                config.backtest_origins,
                n_threads,
                n=len(chunk),
            )
            for chunk in (runners.chunks(candidates, size) if size > 1 else [])
        ]
        group_futures = [
            train_group_candidate.submit(
                database_url,
                name,
                members,
                spec.to_dict(),
                config.groups[name].embedding_dim,
                run_id,
                config.metric,
                config.backtest_origins,
                n_threads,
            )
            for name, members in groups.items()
            for spec in group_specs[name]
        ]
        wait([*singles, *batches, *group_futures])
        results = [f.result() for f in singles]
        results += [r for f in [*batches, *group_futures] for r in f.result()]
        runs.checkpoint(run_id)  # cancelled: nothing of this run is promoted
        forecasts = {}
        for key, _ in jobs:
            mine = [r for r in results if r["series"] == key]
            committed = commit_series(database_url, key, mine, run_id)
            forecasts[key] = committed["forecasts"]
            for r in mine:
                if r["promoted"] and r["version_id"] not in committed["promoted"]:
                    r["promoted"] = False
                    r["reason"] += "; another candidate of this run scored better"
        for r in results:
            logger.info("%s: %s", _label(r), r["reason"])
            for notice in r.get("notices", []):
                logger.warning("%s: %s", _label(r), notice)
        failed = [r for r in results if r["failed"]]
        error = "; ".join(f"{_label(r)}: {r['reason']}" for r in failed) or None
        result = {
            "versions": [r["version_id"] for r in results if r["version_id"] is not None],
            "promoted": [r["version_id"] for r in results if r["promoted"]],
            "failed": [r["version_id"] for r in failed],
            # weights of these depend on the machine's speed: the time budget ended their fit
            "cut_short": [r["version_id"] for r in results if r.get("cut_short")],
            "candidates": results,
            "forecasts": forecasts,
            "served": _served(database_url, [key for key, _ in jobs]),
        }
        # Some candidates failing while others trained is still a failed run: its reason says which.
        close_run(factory, run_id, ok=not failed, result=result, error=error)
        return {"run_id": run_id, **result}

    out: dict[str, Any] = guarded(factory, run_id, body)
    return out
