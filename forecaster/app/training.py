"""Train a series (or a group of series with one global model), refresh its baselines, and
store its champions' forecasts: what the retrain flow's tasks, the API and the CLI share.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster.app import catalog, versions
from forecaster.app.catalog import STRATEGIES
from forecaster.app.forecasts import forecast_series
from forecaster.app.model_cache import ModelCache
from forecaster.architectures import is_baseline
from forecaster.champion import DEFAULT_BACKTEST_ORIGINS, DEFAULT_METRIC, Decision
from forecaster.db import observations as observations_db
from forecaster.db import series as series_db
from forecaster.db.forecast_cache import store_forecast
from forecaster.db.models import Series
from forecaster.db.session import transaction
from forecaster.errors import InvalidData, InvalidRequest
from forecaster.forecasting.train import TrainOutcome, train_model
from forecaster.global_models import DEFAULT_EMBEDDING_DIM, train_global_model
from forecaster.spec import ModelSpec

logger = logging.getLogger(__name__)


def default_targets(frame: pd.DataFrame) -> tuple[str, ...]:
    """The variable(s) a series is forecast for unless told: close for prices, tmax for weather."""
    for name in ("close", "tmax", "tavg", "temp", "ot"):
        if name in frame.columns:
            return (name,)
    return (str(frame.columns[0]),)


def default_inputs(frame: pd.DataFrame, targets: tuple[str, ...]) -> tuple[str, ...]:
    """Targets plus the other variables that are mostly observed (sparse ones would be noise)."""
    observed = frame.notna().mean()
    extra = [c for c in frame.columns if c not in targets and observed[c] >= 0.9]
    return (*targets, *extra)


@dataclass
class TrainRequest:
    series_key: str
    spec: ModelSpec
    promote: bool = False
    metric: str = DEFAULT_METRIC
    origins: int = DEFAULT_BACKTEST_ORIGINS


def load_training_frame(*, session: Session, series_key: str) -> tuple[Series, pd.DataFrame]:
    series = series_db.get_series(session=session, key=series_key)
    frame = observations_db.read_frame(session=session, series_id=series.id)
    if frame.empty:
        raise InvalidData(
            f"series {series_key!r} has no observations; ingest it first (forecaster ingest ...)"
        )
    return series, frame


def complete_spec(spec: ModelSpec, series: Series, frame: pd.DataFrame) -> ModelSpec:
    targets = spec.targets or default_targets(frame)
    unknown = [t for t in targets if t not in frame.columns]
    if unknown:
        raise InvalidRequest(
            f"unknown target {', '.join(map(repr, unknown))} for series {series.key!r}; "
            f"its variables are {', '.join(frame.columns)}"
        )
    inputs = spec.inputs or default_inputs(frame, tuple(targets))
    return replace(spec, targets=tuple(targets), inputs=tuple(inputs))


@dataclass
class Prepared:
    """A training job read from the database: the data and the completed spec."""

    series_id: int
    series_key: str
    freq: str
    spec: ModelSpec
    frame: pd.DataFrame


def prepare_training(*, session: Session, request: TrainRequest) -> Prepared:
    series, frame = load_training_frame(session=session, series_key=request.series_key)
    spec = complete_spec(request.spec, series, frame)
    spec.validate(list(frame.columns), len(frame))
    return Prepared(
        series.id, series.key, series.frequency, spec, frame[list(spec.inputs or frame.columns)]
    )


def train_series(
    *,
    sessions: sessionmaker[Session],
    request: TrainRequest,
    run_id: int | None = None,
    threads: int | None = None,
    device: str | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    apply: bool = True,
) -> Decision:
    """Train one candidate on a stored series, score it beside the baselines, register it, and
    promote it per the champion rule.

    Training runs outside any transaction (SQLite allows one writer; a long write transaction
    would block ingests and API writes); the registration is one short transaction. Work that
    no flow wraps (the CLI's `train`) is recorded as a run of its own by flows.leases.train_recorded.
    """
    with sessions.begin() as session:
        job = prepare_training(session=session, request=request)
    outcome = train_model(
        job.frame, job.spec, freq=job.freq, device=device, threads=threads, progress=progress
    )
    origins = backtest_origins(request.origins, job.frame)
    decision = transaction(  # minutes of training are not lost to a dropped connection
        sessions,
        lambda session: versions.register_candidate(
            session=session,
            series_id=job.series_id,
            outcome=outcome,
            frame=job.frame,
            run_id=run_id,
            metric=request.metric,
            origins=origins,
            force=request.promote,
            apply=apply,
        ),
    )
    return replace(decision, extra=training_facts(outcome))


def train_group(
    *,
    sessions: sessionmaker[Session],
    group: str,
    members: list[str],
    spec: ModelSpec,
    embedding_dim: int = DEFAULT_EMBEDDING_DIM,
    metric: str = DEFAULT_METRIC,
    origins: int = DEFAULT_BACKTEST_ORIGINS,
    run_id: int | None = None,
    threads: int | None = None,
    device: str | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    apply: bool = True,
) -> tuple[int, dict[str, Decision]]:
    """Train one global model across stored series of one frequency, register it once and one
    version per member, each judged for that member's champion by the same rule as a series' own
    candidates. Returns the global model's id and each member's decision.

    Raises:
        InvalidRequest: members of different frequencies, fewer than two members.
    """
    with sessions.begin() as session:
        loaded = {key: load_training_frame(session=session, series_key=key) for key in members}
    freq = _group_frequency(group, [series.frequency for series, _ in loaded.values()])
    frames = {key: frame for key, (_, frame) in loaded.items()}
    spec = _group_spec(spec, frames, first=members[0])
    outcome = train_global_model(
        frames,
        spec,
        freq=freq,
        embedding_dim=embedding_dim,
        device=device,
        threads=threads,
        progress=progress,
    )
    row, decisions = transaction(
        sessions,
        lambda session: versions.register_global(
            session=session,
            group=group,
            outcome=outcome,
            series_ids={key: series.id for key, (series, _) in loaded.items()},
            frames=frames,
            run_id=run_id,
            metric=metric,
            origins={key: backtest_origins(origins, frame) for key, frame in frames.items()},
            apply=apply,
        ),
    )
    global_id = row.id
    facts = {key: training_facts(outcome.outcomes[key]) for key in decisions}
    return global_id, {key: replace(d, extra=facts[key]) for key, d in decisions.items()}


def _group_frequency(group: str, frequencies: list[str]) -> str:
    """The one frequency a global model's members share (InvalidRequest when they differ)."""
    freqs = sorted(set(frequencies))
    if len(freqs) != 1:
        raise InvalidRequest(
            f"group {group!r} mixes frequencies {', '.join(freqs)}; a global model's members "
            "share one frequency"
        )
    return freqs[0]


def _group_spec(spec: ModelSpec, frames: dict[str, pd.DataFrame], *, first: str) -> ModelSpec:
    """The group's targets (the spec's, else the first member's defaults) and the inputs every
    member has mostly observed (train_global_model screens them further)."""
    targets = tuple(spec.targets or default_targets(frames[first]))
    each = [
        set(default_inputs(f, targets)) if set(targets) <= set(f) else set()
        for f in frames.values()
    ]
    inputs = spec.inputs or tuple(
        v for v in default_inputs(frames[first], targets) if all(v in e for e in each)
    )
    return replace(spec, targets=targets, inputs=inputs)


def training_facts(outcome: TrainOutcome) -> dict[str, Any]:
    """What a run result and the CLI report about one fit beside the promotion decision: how it
    stopped (a time-budget cut makes the weights depend on the machine's speed), each variable's
    transform and the notices (transform fallbacks, dropped inputs)."""
    fit = outcome.fit
    pipeline = outcome.model.pipeline
    notices = [f"{var}: {why}" for var, why in pipeline.notes]
    notices += [f"{var} dropped: {why}" for var, why in pipeline.dropped]
    if fit.cut_short:
        notices.append(
            f"training cut short by the time budget ({fit.time_budget_s:g} s) after "
            f"{fit.epochs_run} of {fit.epochs_planned} epochs"
        )
    return {
        "device": fit.device,
        "stopped": fit.stopped,
        "epochs_run": fit.epochs_run,
        "epochs_planned": fit.epochs_planned,
        "cut_short": fit.cut_short,
        "transforms": dict(zip(pipeline.variables, pipeline.per_variable, strict=True)),
        "dropped": dict(pipeline.dropped),
        "notices": notices,
    }


def backtest_origins(requested: int, frame: pd.DataFrame) -> int:
    """The backtest's origins: as many as asked, at most a tenth of the history, at least one."""
    return max(1, min(requested, len(frame) // 10))


def refresh_baselines(
    *,
    sessions: sessionmaker[Session],
    request: TrainRequest,
    run_id: int | None = None,
    apply: bool = True,
) -> dict[str, Any]:
    """Register (or keep) the naive and seasonal-naive versions of a series' strategy for the
    request's targets, calibrated for its horizon; with no champion yet, the better one serves.
    With `apply=False` no champion changes: the retrain flow seats the baselines when the series
    commits (versions.seat_baselines).

    Returns {"naive": id, "seasonal_naive": id, "champion": id or None}.
    """
    with sessions.begin() as session:
        job = prepare_training(session=session, request=request)
        spec = job.spec
        baselines = versions.refresh_baselines(
            session=session,
            series_id=job.series_id,
            strategy=spec.strategy,
            frame=job.frame,
            freq=job.freq,
            targets=list(spec.targets or ()),
            horizon=spec.horizon,
            level=spec.level,
            val_fraction=spec.val_fraction,
            test_fraction=spec.test_fraction,
            origins=backtest_origins(request.origins, job.frame),
            metric=request.metric,
            run_id=run_id,
            apply=apply,
        )
        champion = catalog.find_champion(
            session=session, series_id=job.series_id, strategy=spec.strategy
        )
        scored = [v for v in baselines.values() if v.primary_score is not None]
        if champion is None and scored and apply:
            champion = versions.promote(
                session=session,
                version_id=min(scored, key=lambda v: float(v.primary_score or 0.0)).id,
            )
        return {
            **{name: v.id for name, v in baselines.items()},
            "champion": None if champion is None else champion.id,
        }


def served_champions(*, session: Session, series_keys: list[str]) -> list[dict[str, Any]]:
    """Which version serves each strategy of these series, and whether it is a baseline (no
    model beat it)."""
    out = []
    for key in series_keys:
        series = series_db.get_series(session=session, key=key)
        for strategy in STRATEGIES:
            champion = catalog.find_champion(
                session=session, series_id=series.id, strategy=strategy
            )
            if champion is not None:
                out.append(
                    {
                        "series": key,
                        "strategy": strategy,
                        "version_id": champion.id,
                        "architecture": champion.architecture,
                        "baseline": is_baseline(champion.architecture),
                        "metric": champion.primary_metric,
                        "score": champion.primary_score,
                    }
                )
    return out


def precompute_forecasts(
    *, session: Session, series_key: str, cache: ModelCache | None = None
) -> dict[str, int]:
    """Store each champion's forecast (its own H, its own level) in the `forecast` table.

    Returns {strategy: version id} for the champions forecast.
    """
    cache = cache or ModelCache()
    series = series_db.get_series(session=session, key=series_key)
    done: dict[str, int] = {}
    for strategy in STRATEGIES:
        champion = catalog.find_champion(session=session, series_id=series.id, strategy=strategy)
        if champion is None:
            continue
        fc = forecast_series(session=session, series_key=series_key, strategy=strategy, cache=cache)
        store_forecast(
            session=session,
            version_id=champion.id,
            issued_at=fc.issued_at,
            points=fc.points,
            data_revision=series.revision,
            coverage_origins=fc.coverage_origins,
        )
        done[strategy] = champion.id
    return done
