"""Retrain flow: refresh the naive baselines, train the configured candidates per series, backtest
each against the champion and the baselines on the same recent window, register them, promote per
the champion rule (a baseline serves where no model beats it), refresh forecasts.

Each series x candidate is its own Prefect task, so a task runner can spread them (threads on
one machine; a Dask or Ray task runner past it). A candidate that fails or is worse never
replaces the champion. Each task only registers its candidate (status "candidate") with the
decision the champion rule would take; once every candidate has finished, one transaction per
series promotes the best winner per strategy and refreshes that series' forecasts: all of a
series' promotions and forecasts commit together, or none do (a run killed part-way leaves
champions and forecasts as they were). Cancellation is checked before each candidate and
before each series commits.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.futures import wait
from prefect.logging import get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner

from flows.common import HOOKS, close_run, guarded, open_run, session_factory
from forecaster import runs
from forecaster.config import get_settings
from forecaster.db import repo
from forecaster.forecasting import ModelSpec
from forecaster.registry import promote_best, record_failure
from forecaster.retrain_config import load_retrain_config
from forecaster.service import (
    TrainRequest,
    precompute_forecasts,
    refresh_baselines,
    served_champions,
    train_series,
)

# Two cores here: one training at a time, each using torch's threads. Raise it on a bigger box.
WORKERS = int(os.environ.get("FORECASTER_RETRAIN_WORKERS", "1"))


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
    """Train, register and maybe promote one candidate; a crash is recorded as a failed version."""
    sessions = session_factory(database_url)
    spec = ModelSpec.from_dict(spec_dict)
    request = TrainRequest(series_key, spec, metric=metric, origins=origins)
    base = {"series": series_key, "architecture": spec.architecture, "strategy": spec.strategy}
    try:
        runs.checkpoint(run_id)
        decision = train_series(
            sessions=sessions,
            request=request,
            run_id=run_id,
            threads=threads,
            apply=False,
            progress=lambda _epoch: runs.checkpoint(run_id),  # a cancel stops the fit at once
        )
    except runs.RunCancelled as exc:
        return {**base, "version_id": None, "promoted": False, "failed": False,
                "cancelled": True, "reason": str(exc)}  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - recorded on the run and as a failed version
        error = f"{type(exc).__name__}: {exc}"
        with sessions.begin() as session:
            series = repo.get_series(session=session, key=series_key)
            version = record_failure(
                session=session,
                series_id=series.id,
                architecture=spec.architecture,
                strategy=spec.strategy,
                spec=spec.to_dict(),
                error=error,
                run_id=run_id,
            )
        return {
            "series": series_key,
            "architecture": spec.architecture,
            "strategy": spec.strategy,
            "version_id": version.id,
            "promoted": False,
            "failed": True,
            "reason": error,
        }  # the traceback is in the worker's log, not on the open version row
    return {
        "series": series_key,
        "architecture": spec.architecture,
        "strategy": spec.strategy,
        "failed": False,
        **decision.as_dict(),
    }


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
        repo.lock_series(session=session, keys=[series_key])
        status = repo.get_run(session=session, run_id=run_id).status
        if status != "running":  # reaped (its lease lapsed) or cancelled: promote nothing
            raise runs.RunCancelled(f"run {run_id} is {status}; its candidates are not promoted")
        promoted = promote_best(session=session, decisions=results)
        forecasts = precompute_forecasts(session=session, series_key=series_key)
    return {"promoted": promoted, "forecasts": forecasts}


@flow(
    name="retrain",
    task_runner=ThreadPoolTaskRunner(max_workers=WORKERS),  # type: ignore[arg-type]
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
    factory = session_factory(database_url)
    run_id = open_run(factory, "retrain", run_id, {"series": series or [], "quick": quick})

    def body() -> dict[str, Any]:
        settings = get_settings()
        path = config_path or (str(settings.retrain_config) if settings.retrain_config else None)
        config = load_retrain_config(Path(path) if path else None)
        n_threads = threads or settings.torch_threads or None
        with factory.begin() as session:
            rows = (
                [repo.get_series(session=session, key=k) for k in series]
                if series
                else repo.list_series(session=session)
            )
            jobs = [(s.key, s.frequency) for s in rows]
        # the baselines first, one per series and strategy, calibrated for the longest candidate
        for key, freq in jobs:
            longest: dict[str, ModelSpec] = {}
            for spec in config.specs(key, freq, quick=quick):
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
        futures = [
            train_candidate.submit(
                database_url,
                key,
                spec.to_dict(),
                run_id,
                config.metric,
                config.backtest_origins,
                n_threads,
            )
            for key, freq in jobs
            for spec in config.specs(key, freq, quick=quick)
        ]
        wait(futures)
        results = [f.result() for f in futures]
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
            logger.info("%s %s/%s: %s", r["series"], r["architecture"], r["strategy"], r["reason"])
            for notice in r.get("notices", []):
                logger.warning(
                    "%s %s/%s: %s", r["series"], r["architecture"], r["strategy"], notice
                )
        failed = [r for r in results if r["failed"]]
        error = (
            "; ".join(
                f"{r['series']} {r['architecture']}/{r['strategy']}: {r['reason']}" for r in failed
            )
            or None
        )
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
