"""Live accuracy: served champion forecasts logged, their live error beside the naive forecast of
the same origin and beside the version's backtest, and the retrain policy that acts on it.

The API route, the Prometheus gauges, the CLI and the forecast flow's policy check all read the
figures through `accuracy()` / `evaluate_policy()` here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from forecaster.architectures import is_baseline
from forecaster.db import forecast_log, forecast_log_reads
from forecaster.db import series as series_db
from forecaster.db.forecast_log_reads import LiveCell
from forecaster.db.models import Evaluation, ModelVersion, Run
from forecaster.errors import InvalidRequest
from forecaster.policy import PolicyVerdict, RetrainPolicy

logger = logging.getLogger(__name__)

STRATEGIES = ("recursive", "direct")
BACKTEST_SPLITS = ("backtest", "test")  # the first one a version has (as metrics_table does)


def log_served(
    *,
    session: Session,
    series_id: int,
    version: ModelVersion,
    issued_at: datetime,
    points: pd.DataFrame,
    level: float | None,
) -> int:
    """Log a champion's forecast with the naive forecast of its origin; returns rows written.

    Runs in a savepoint: a failure to log never fails the forecast that is being served."""
    try:
        with session.begin_nested():
            variables = sorted({str(v) for v in points["variable"]})
            naive = forecast_log.naive_values(
                session=session, series_id=series_id, variables=variables, origin=issued_at
            )
            return forecast_log.log_forecast(
                session=session,
                series_id=series_id,
                version_id=version.id,
                strategy=version.strategy,
                origin=issued_at,
                points=points,
                level=level,
                naive=naive,
            )
    except Exception:  # noqa: BLE001 - monitoring must not break serving
        logger.exception("could not log the forecast of version %d at %s", version.id, issued_at)
        return 0


# --- live figures ----------------------------------------------------------------------------


def _div(a: float, b: float) -> float | None:
    return a / b if b > 0 and math.isfinite(a / b) else None


def live_figures(cells: Sequence[LiveCell]) -> dict[str, Any]:
    """MAE, RMSE, MASE (MAE over the naive forecast's MAE on the same points), coverage and
    the naive figures, pooled over `cells` (sums add up, so any grouping pools exactly)."""
    n = sum(c.n for c in cells)
    n_naive = sum(c.n_naive for c in cells)
    abs_naive = sum(c.abs_naive for c in cells)
    n_interval = sum(c.n_interval for c in cells)
    levels = [c.level for c in cells if c.level is not None]
    return {
        "n": n,
        "mae": _div(sum(c.abs_err for c in cells), n),
        "rmse": None if n == 0 else math.sqrt(sum(c.sq_err for c in cells) / n),
        "mase": _div(sum(c.abs_paired for c in cells), abs_naive),
        "coverage": _div(sum(c.inside for c in cells), n_interval),
        "level": max(levels) if levels else None,
        "naive_mae": _div(abs_naive, n_naive),
        "naive_rmse": None if n_naive == 0 else math.sqrt(sum(c.sq_naive for c in cells) / n_naive),
    }


def backtest_figures(
    *, session: Session, version_id: int, steps: int | None
) -> tuple[str, dict[tuple[str, int], dict[str, Any]]]:
    """(split, {(variable, step): figures}) of the version's backtest, step 0 pooled over
    steps 1..`steps` (all stored when None), in the live figures' terms: MASE as the ratio of
    the model's MASE to the naive one's (the same windows, so the ratio of their MAEs)."""
    rows = session.execute(
        select(
            Evaluation.split,
            Evaluation.model,
            Evaluation.variable,
            Evaluation.step,
            Evaluation.metric,
            Evaluation.value,
        ).where(Evaluation.model_version_id == version_id)
    ).all()
    have = {r[0] for r in rows}
    split = next((s for s in BACKTEST_SPLITS if s in have), "")
    raw: dict[tuple[str, int], dict[str, float]] = {}
    for sp, model, var, step, metric, value in rows:
        if sp != split or step == 0 or value is None or model not in ("model", "naive"):
            continue
        if steps is not None and step > steps:
            continue
        raw.setdefault((var, step), {})[f"{model}_{metric}"] = float(value)
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for variable in sorted({v for v, _ in raw}):
        per_step = sorted((s, f) for (v, s), f in raw.items() if v == variable)
        for s, f in per_step:
            out[(variable, s)] = _backtest_cell(f)
        pooled: dict[str, float] = {}
        for key in {k for _, f in per_step for k in f}:
            values = [f[key] for _, f in per_step if key in f]
            if key.endswith("rmse"):
                pooled[key] = math.sqrt(sum(v * v for v in values) / len(values))
            else:
                pooled[key] = sum(values) / len(values)
        out[(variable, 0)] = _backtest_cell(pooled)
    return split, out


def _backtest_cell(f: dict[str, float]) -> dict[str, Any]:
    mase, naive_mase = f.get("model_mase"), f.get("naive_mase")
    return {
        "mae": f.get("model_mae"),
        "rmse": f.get("model_rmse"),
        "mase": None if mase is None or not naive_mase else mase / naive_mase,
        "coverage": f.get("model_coverage"),
        "naive_mae": f.get("naive_mae"),
        "naive_rmse": f.get("naive_rmse"),
    }


def accuracy(
    *,
    session: Session,
    series_key: str,
    strategy: str = "recursive",
    since: datetime | None = None,
    steps: int | None = None,
) -> dict[str, Any]:
    """Live figures of every version that served this series and strategy (champion first),
    per variable and step (0: pooled), beside the version's backtest figures."""
    _check_request(strategy=strategy, steps=steps)
    series = series_db.get_series(session=session, key=series_key)
    cells = forecast_log_reads.live_cells(
        session=session, series_id=series.id, strategy=strategy, since=since, steps=steps
    )
    by_version: dict[int, list[LiveCell]] = {}
    for c in cells:
        by_version.setdefault(c.version_id, []).append(c)
    champion, ids = _served_versions(
        session=session, series_id=series.id, strategy=strategy, served=by_version
    )
    versions = []
    for vid in ids:
        version = session.get(ModelVersion, vid)
        if version is None:
            continue
        split, backtest = backtest_figures(session=session, version_id=vid, steps=steps)
        versions.append(_version_report(version, by_version.get(vid, []), split, backtest))
    return {
        "series": series.key,
        "strategy": strategy,
        "since": since,
        "steps": steps,
        "champion_id": champion,
        "versions": versions,
        "count": len(versions),
    }


def _check_request(*, strategy: str, steps: int | None) -> None:
    if strategy not in STRATEGIES:
        raise InvalidRequest(f"strategy={strategy!r} is not one of {', '.join(STRATEGIES)}")
    if steps is not None and steps < 1:
        raise InvalidRequest(f"steps={steps} must be a positive number of steps")


def _served_versions(
    *, session: Session, series_id: int, strategy: str, served: dict[int, list[LiveCell]]
) -> tuple[int | None, list[int]]:
    """(champion id, the ids to report): the champion first (even if it served nothing yet),
    then the versions that served, newest first."""
    champion = session.scalar(
        select(ModelVersion.id).where(
            ModelVersion.series_id == series_id,
            ModelVersion.strategy == strategy,
            ModelVersion.status == "champion",
        )
    )
    ids = sorted(served, key=lambda v: (v != champion, -v))
    if champion is not None and champion not in served:
        ids.insert(0, champion)
    return champion, ids


def _version_report(
    version: ModelVersion,
    mine: list[LiveCell],
    split: str,
    backtest: dict[tuple[str, int], dict[str, Any]],
) -> dict[str, Any]:
    """One version's entry: what it served, and its figures beside its backtest."""
    return {
        "version_id": version.id,
        "architecture": version.architecture,
        "status": version.status,
        "baseline": is_baseline(version.architecture),
        "origins": max((c.origins for c in mine), default=0),
        "first_origin": min((c.first_origin for c in mine), default=None),
        "last_origin": max((c.last_origin for c in mine), default=None),
        "last_scored_at": max(
            (c.last_scored_at for c in mine if c.last_scored_at is not None), default=None
        ),
        "backtest_split": split,
        "figures": _figure_rows(mine, backtest),
    }


def _figure_rows(
    mine: list[LiveCell], backtest: dict[tuple[str, int], dict[str, Any]]
) -> list[dict[str, Any]]:
    """Per variable, step 0 (pooled) then each step live or backtested: live beside backtest."""
    rows = []
    for variable in sorted({c.variable for c in mine} | {v for v, _ in backtest}):
        var_cells = [c for c in mine if c.variable == variable]
        for step in sorted(
            {0} | {c.step for c in var_cells} | {s for v, s in backtest if v == variable}
        ):
            chosen = var_cells if step == 0 else [c for c in var_cells if c.step == step]
            rows.append(
                {
                    "variable": variable,
                    "step": step,
                    "live": live_figures(chosen),
                    "backtest": backtest.get((variable, step)),
                }
            )
    return rows


# --- the retrain policy, applied ------------------------------------------------------------


def last_retrain_at(*, session: Session, series_key: str) -> datetime | None:
    """When the newest retrain run touching this series was created (its evidence starts after)."""
    for run in session.scalars(
        select(Run).where(Run.kind == "retrain").order_by(Run.id.desc()).limit(200)
    ):
        theirs = run.parameters.get("series") or []
        if not theirs or series_key in theirs:
            return run.created_at
    return None


def evaluate_policy(
    *, session: Session, series_key: str, policy: RetrainPolicy
) -> list[PolicyVerdict]:
    """The policy's verdict on each champion of the series (no action taken)."""
    series = series_db.get_series(session=session, key=series_key)
    after = last_retrain_at(session=session, series_key=series_key)
    verdicts = []
    for version in session.scalars(
        select(ModelVersion)
        .where(ModelVersion.series_id == series.id, ModelVersion.status == "champion")
        .order_by(ModelVersion.strategy)
    ):
        # only what this champion served since it was promoted and since the last retrain
        start = max(t for t in (after, version.promoted_at, version.created_at) if t is not None)
        recent = forecast_log_reads.last_origins(
            session=session, version_id=version.id, n=policy.window, origins_after=start
        )
        verdict = PolicyVerdict(series.key, version.strategy, version.id, len(recent))
        verdicts.append(verdict)
        if not policy.enabled or len(recent) < policy.min_origins:
            continue
        cells = forecast_log_reads.live_cells(
            session=session,
            series_id=series.id,
            version_id=version.id,
            since=recent[-1],
            origins_after=start,
        )
        if not cells:
            continue
        steps = max(c.step for c in cells)
        _, backtest = backtest_figures(session=session, version_id=version.id, steps=steps)
        for variable in sorted({c.variable for c in cells}):
            live = live_figures([c for c in cells if c.variable == variable])
            bt = backtest.get((variable, 0)) or {}
            if live["mae"] is not None and bt.get("mae"):
                excess = live["mae"] / bt["mae"] - 1
                if excess > policy.error_margin:
                    verdict.reasons.append(
                        f"{variable} live MAE {live['mae']:.4g} is {excess:.0%} above its "
                        f"backtest MAE {bt['mae']:.4g} (margin {policy.error_margin:.0%})"
                    )
            if live["coverage"] is not None and live["coverage"] < policy.coverage_floor:
                verdict.reasons.append(
                    f"{variable} live coverage {live['coverage']:.0%} of its "
                    f"{live['level'] or 0:.0%} intervals is below the floor "
                    f"{policy.coverage_floor:.0%}"
                )
            if (
                not is_baseline(version.architecture)
                and live["mase"] is not None
                and live["mase"] >= policy.naive_ratio
            ):
                verdict.reasons.append(
                    f"{variable} no longer beats the naive forecast live (MAE ratio "
                    f"{live['mase']:.3g} >= {policy.naive_ratio:g})"
                )
    return verdicts
