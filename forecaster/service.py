"""What the API, the flows and the CLI share: train a series, forecast a series, keep models loaded.

An HTTP handler and a flow task that do the same thing call the same function here.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster import registry, runs
from forecaster.architectures import is_baseline

# what a read needs without a model lives in forecaster.catalog (no torch); re-exported here
from forecaster.catalog import DEFAULT_MAX_HORIZON as DEFAULT_MAX_HORIZON
from forecaster.catalog import MAX_VERSION_ID as MAX_VERSION_ID
from forecaster.catalog import STRATEGIES as STRATEGIES
from forecaster.catalog import SeriesForecast as SeriesForecast
from forecaster.catalog import horizon_cap as horizon_cap
from forecaster.catalog import metrics_table as metrics_table
from forecaster.catalog import resolve_version as resolve_version
from forecaster.catalog import series_forecast
from forecaster.db import observations as observations_db
from forecaster.db import series as series_db
from forecaster.db.forecast_cache import read_forecast, store_forecast
from forecaster.db.models import ModelVersion, Series
from forecaster.errors import HorizonTooLong, InvalidData, InvalidRequest
from forecaster.forecasting import Forecast, ModelSpec, TrainOutcome, train_model
from forecaster.global_models import DEFAULT_EMBEDDING_DIM, train_global_model
from forecaster.monitoring import log_served

logger = logging.getLogger(__name__)


class ModelCache:
    """Loaded models by version id, and computed forecasts by (version, data end, horizon, level).

    A forecast read never retrains or reloads a model; a promotion or new data changes the key.
    Thread-safe: sync FastAPI routes run in a thread pool.
    """

    def __init__(self, max_forecasts: int = 512) -> None:
        self._models: dict[int, registry.Predictor] = {}
        self._forecasts: OrderedDict[tuple[Any, ...], Forecast] = OrderedDict()
        self._max = max_forecasts
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def model(self, version: ModelVersion) -> registry.Predictor:
        with self._lock:
            found = self._models.get(version.id)
        if found is not None:
            return found
        loaded = registry.load_version(version)
        with self._lock:
            return self._models.setdefault(version.id, loaded)

    def forecast(self, key: tuple[Any, ...], compute: Callable[[], Forecast]) -> Forecast:
        with self._lock:
            found = self._forecasts.get(key)
            if found is not None:
                self._forecasts.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
        result = compute()
        with self._lock:
            self._forecasts[key] = result
            while len(self._forecasts) > self._max:
                self._forecasts.popitem(last=False)
        return result

    def forget(self, version_id: int | None = None) -> None:
        """Drop a version (all when None): after a promotion the next read loads the champion anew."""
        with self._lock:
            if version_id is None:
                self._models.clear()
                self._forecasts.clear()
                return
            self._models.pop(version_id, None)
            for k in [k for k in self._forecasts if k[0] == version_id]:
                del self._forecasts[k]

    @property
    def loaded(self) -> list[int]:
        with self._lock:
            return sorted(self._models)


def forecast_series(
    *,
    session: Session,
    series_key: str,
    horizon: int | None = None,
    strategy: str | None = None,
    model: str | int = "champion",
    level: float | None = None,
    cache: ModelCache | None = None,
    max_horizon: int = DEFAULT_MAX_HORIZON,
) -> SeriesForecast:
    """Forecast the next `horizon` steps of a series with its champion (or a given version).

    `strategy` None: recursive for the champion, the version's own for a version id (one that
    contradicts it is an InvalidRequest). `max_horizon` bounds a recursive model's horizon
    (see `horizon_cap`); HorizonTooLong past it.
    """
    cache = cache or ModelCache()
    series = series_db.get_series(session=session, key=series_key)
    version = resolve_version(session=session, series=series, strategy=strategy, model=model)
    cap = horizon_cap(version, recursive_max=max_horizon)
    if horizon is not None and horizon > cap:  # before the model is even loaded
        if version.strategy == "direct":
            raise HorizonTooLong(
                f"horizon={horizon} exceeds this direct model's H={cap}; "
                f"use strategy=recursive or horizon<={cap}"
            )
        raise HorizonTooLong(
            f"horizon={horizon} exceeds the limit of {cap} steps for a recursive forecast; "
            f"give horizon between 1 and {cap}"
        )
    trained = cache.model(version)
    h = trained.check_horizon(horizon)
    lvl = trained.spec.level if level is None else level
    if not 0 < lvl < 1:
        raise InvalidRequest(f"level={lvl} must be between 0 and 1 (exclusive), e.g. 0.9")
    data_end = observations_db.latest_timestamp(session=session, series_id=series.id)
    if data_end is None:
        raise InvalidData(f"series {series_key!r} has no observations yet; ingest it first")

    computed = False

    def compute() -> Forecast:
        nonlocal computed
        computed = True
        if version.architecture != "seq2seq_attention" and (h, lvl) == (
            trained.spec.horizon,
            trained.spec.level,
        ):  # the forecast flow may have stored exactly this one (attention is not stored)
            stored = read_forecast(
                session=session,
                version_id=version.id,
                issued_at=data_end,
                data_revision=series.revision,
            )
            adaptive = getattr(trained, "intervals", None) is not None
            if stored is not None and not (adaptive and stored.coverage_origins is None):
                return Forecast(
                    pd.Timestamp(data_end),
                    stored.points,
                    None,
                    lvl,
                    coverage_origins=stored.coverage_origins or 0,
                )
        history = observations_db.read_frame(
            session=session, series_id=series.id, variables=trained.variables
        )
        return trained.predict(history, horizon=h, level=lvl)

    fc = cache.forecast((version.id, data_end, series.revision, h, lvl), compute)
    if computed and str(model) == "champion":  # a forecast issued: kept to be scored live
        log_served(
            session=session,
            series_id=series.id,
            version=version,
            issued_at=pd.Timestamp(fc.issued_at).to_pydatetime(),
            points=fc.points,
            level=lvl,
        )
    return series_forecast(
        session=session,
        series=series,
        version=version,
        horizon=h,
        level=lvl,
        issued_at=pd.Timestamp(fc.issued_at).to_pydatetime(),
        points=fc.points,
        attention=fc.attention,
        attention_unit=fc.attention_unit,
        coverage_origins=fc.coverage_origins,
        max_horizon=getattr(trained, "max_horizon", None),  # a baseline: no limit of its own
    )


# --- training ------------------------------------------------------------------------------


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
    metric: str = registry.DEFAULT_METRIC
    origins: int = registry.DEFAULT_BACKTEST_ORIGINS


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
) -> registry.Decision:
    """Train one candidate on a stored series, score it beside the baselines, register it, and
    promote it per the champion rule.

    Training runs outside any transaction (SQLite allows one writer; a long write transaction
    would block ingests and API writes); the registration is one short transaction. Without a
    `run_id` (the caller is no flow) it is recorded as a `train` run of its own, so every
    training run is listed with the others.
    """
    if run_id is None:
        parameters = {"spec": request.spec.to_dict(), "promote": request.promote}
        with runs.recorded(
            sessions, kind="train", series=[request.series_key], parameters=parameters
        ) as run:
            decision = train_series(
                sessions=sessions,
                request=request,
                run_id=run.id,
                threads=threads,
                device=device,
                progress=progress,
                apply=apply,
            )
            run.result = {
                "versions": [decision.version_id],
                "promoted": [decision.version_id] if decision.promoted else [],
                "reason": decision.reason,
            }
        return decision
    with sessions.begin() as session:
        job = prepare_training(session=session, request=request)
    outcome = train_model(
        job.frame, job.spec, freq=job.freq, device=device, threads=threads, progress=progress
    )
    origins = backtest_origins(request.origins, job.frame)
    with sessions.begin() as session:
        decision = registry.register_candidate(
            session=session,
            series_id=job.series_id,
            outcome=outcome,
            frame=job.frame,
            run_id=run_id,
            metric=request.metric,
            origins=origins,
            force=request.promote,
            apply=apply,
        )
    decision.extra.update(training_facts(outcome))
    return decision


def train_group(
    *,
    sessions: sessionmaker[Session],
    group: str,
    members: list[str],
    spec: ModelSpec,
    embedding_dim: int = DEFAULT_EMBEDDING_DIM,
    metric: str = registry.DEFAULT_METRIC,
    origins: int = registry.DEFAULT_BACKTEST_ORIGINS,
    run_id: int | None = None,
    threads: int | None = None,
    device: str | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    apply: bool = True,
) -> tuple[int, dict[str, registry.Decision]]:
    """Train one global model across stored series of one frequency, register it once and one
    version per member, each judged for that member's champion by the same rule as a series' own
    candidates. Returns the global model's id and each member's decision.

    Raises:
        InvalidRequest: members of different frequencies, fewer than two members.
    """
    with sessions.begin() as session:
        loaded = {key: load_training_frame(session=session, series_key=key) for key in members}
    freqs = sorted({series.frequency for series, _ in loaded.values()})
    if len(freqs) != 1:
        raise InvalidRequest(
            f"group {group!r} mixes frequencies {', '.join(freqs)}; a global model's members "
            "share one frequency"
        )
    frames = {key: frame for key, (_, frame) in loaded.items()}
    targets = tuple(spec.targets or default_targets(frames[members[0]]))
    # the inputs every member has mostly observed (train_global_model screens them further)
    each = [
        set(default_inputs(f, targets)) if set(targets) <= set(f) else set()
        for f in frames.values()
    ]
    inputs = spec.inputs or tuple(
        v for v in default_inputs(frames[members[0]], targets) if all(v in e for e in each)
    )
    spec = replace(spec, targets=targets, inputs=inputs)
    outcome = train_global_model(
        frames,
        spec,
        freq=freqs[0],
        embedding_dim=embedding_dim,
        device=device,
        threads=threads,
        progress=progress,
    )
    with sessions.begin() as session:
        row, decisions = registry.register_global(
            session=session,
            group=group,
            outcome=outcome,
            series_ids={key: series.id for key, (series, _) in loaded.items()},
            frames=frames,
            run_id=run_id,
            metric=metric,
            origins={key: backtest_origins(origins, frame) for key, frame in frames.items()},
            apply=apply,
        )
        global_id = row.id
    for key, decision in decisions.items():
        decision.extra.update(training_facts(outcome.outcomes[key]))
    return global_id, decisions


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
    *, sessions: sessionmaker[Session], request: TrainRequest, run_id: int | None = None
) -> dict[str, Any]:
    """Register (or keep) the naive and seasonal-naive versions of a series' strategy for the
    request's targets, calibrated for its horizon; with no champion yet, the better one serves.

    Returns {"naive": id, "seasonal_naive": id, "champion": id or None}.
    """
    with sessions.begin() as session:
        job = prepare_training(session=session, request=request)
        spec = job.spec
        versions = registry.refresh_baselines(
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
        )
        champion = registry.find_champion(
            session=session, series_id=job.series_id, strategy=spec.strategy
        )
        scored = [v for v in versions.values() if v.primary_score is not None]
        if champion is None and scored:
            champion = registry.promote(
                session=session,
                version_id=min(scored, key=lambda v: float(v.primary_score or 0.0)).id,
            )
        return {
            **{name: v.id for name, v in versions.items()},
            "champion": None if champion is None else champion.id,
        }


def served_champions(*, session: Session, series_keys: list[str]) -> list[dict[str, Any]]:
    """Which version serves each strategy of these series, and whether it is a baseline (no
    model beat it)."""
    out = []
    for key in series_keys:
        series = series_db.get_series(session=session, key=key)
        for strategy in STRATEGIES:
            champion = registry.find_champion(
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
        champion = registry.find_champion(session=session, series_id=series.id, strategy=strategy)
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
