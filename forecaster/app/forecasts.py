"""Forecast a series: which version a read uses, the forecast the forecast flow stored, and the
forecast computed by a loaded model (kept loaded in a ModelCache).

Importing this loads no torch nor Prefect (the CLI's `forecast` of a stored forecast starts
fast): the model code is imported when a model is first loaded or run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy.orm import Session

from forecaster.app.accuracy import log_served
from forecaster.app.catalog import (
    MAX_VERSION_ID,
    STRATEGIES,
    get_champion,
    get_version,
    metrics_table,
)
from forecaster.app.model_cache import ModelCache
from forecaster.architectures import is_baseline
from forecaster.checks import DEFAULT_MAX_HORIZON, NO_REACH, HorizonLimits, check_request
from forecaster.db import observations as observations_db
from forecaster.db import series as series_db
from forecaster.db.forecast_cache import StoredForecast, forecast_key, read_forecast
from forecaster.db.models import ModelVersion, Series
from forecaster.errors import BadModelRef, InvalidData, InvalidRequest, UnknownModel
from forecaster.skill import has_skill, restrict_steps, skill_sentence

if TYPE_CHECKING:
    import numpy as np

    from forecaster.forecasting.predictor import Forecast, Predictor

logger = logging.getLogger(__name__)

DEFAULT_STRATEGY = "recursive"  # what a champion read without a strategy uses


# --- which version a forecast uses -----------------------------------------------------------


def read_strategy(strategy: str | None, version_id: int | None) -> str | None:
    """The strategy a read asks for: as given; for a champion read without one, recursive; for
    a version id without one, None (the version's own)."""
    if strategy is None and version_id is None:
        return DEFAULT_STRATEGY
    return strategy


def read_key(
    *, session: Session, series_key: str, strategy: str | None, model: str | int
) -> tuple[int, str, int] | None:
    """(version id, status, data revision) of the version a read uses, in one query: what a
    cached forecast is keyed by. None when there is no such version (forecast_series then
    raises the precise error)."""
    version_id = None if str(model) == "champion" else int(model)
    return forecast_key(
        session=session,
        series_key=series_key,
        strategy=read_strategy(strategy, version_id),
        version_id=version_id,
    )


def version_limits(version: ModelVersion) -> HorizonLimits:
    """What bounds a version's forecasts, from its stored row (no model loaded): the facts
    TrainedModel.limits gives once the model is loaded."""
    spec = version.hyperparameters or {}
    intervals = (version.feature_spec or {}).get("intervals")
    return HorizonLimits(
        strategy=version.strategy,
        horizon=int(spec.get("horizon") or 1),
        level=float(spec.get("level") or 0.9),
        reach=None if intervals is None else int(intervals["max_horizon"]),
        reach_reason=NO_REACH if intervals is None else str(intervals.get("reason", "")),
        baseline=is_baseline(version.architecture),
    )


def resolve_version(
    *, session: Session, series: Series, strategy: str | None, model: str | int
) -> ModelVersion:
    """The version a forecast of `series` uses: the strategy's champion, or version `model`.

    `strategy` None means recursive for the champion and the version's own for an id; a
    strategy that contradicts the version's is refused (InvalidRequest), never ignored.
    """
    if strategy is not None and strategy not in STRATEGIES:
        raise InvalidRequest(f"strategy={strategy!r} is not one of {', '.join(STRATEGIES)}")
    if str(model) == "champion":
        return get_champion(
            session=session,
            series_id=series.id,
            strategy=read_strategy(strategy, None) or DEFAULT_STRATEGY,
            series_key=series.key,
        )
    try:
        version_id = int(model)
    except ValueError:
        version_id = 0
    if not 1 <= version_id <= MAX_VERSION_ID:  # a larger number overflows the databases' ids
        raise BadModelRef(model=model, max_id=MAX_VERSION_ID)
    version = get_version(session=session, version_id=version_id)
    if version.series_id != series.id:
        raise UnknownModel(version_id=version_id, series_key=series.key)
    if strategy is not None and strategy != version.strategy:
        raise InvalidRequest(
            f"model version {version_id} is a {version.strategy} model, so strategy={strategy} "
            f"contradicts it; use strategy={version.strategy} or leave strategy out"
        )
    if version.status == "failed" or (
        not version.trained and not is_baseline(version.architecture)
    ):
        raise InvalidRequest(f"model version {version_id} failed to train and has no forecasts")
    return version


# --- a forecast as read --------------------------------------------------------------------


@dataclass
class SeriesForecast:
    """Everything a forecast response needs."""

    series_key: str
    frequency: str
    version: ModelVersion
    strategy: str
    horizon: int
    level: float
    issued_at: datetime
    points: pd.DataFrame  # step, ts, variable, value, lower, upper[, coverage, width]
    attention: np.ndarray | None  # (rows, cols) for seq2seq_attention (Forecast.attention)
    attention_unit: int = 1  # steps per attention row and column (a segment model's w)
    coverage_origins: int = 0  # recent origins the points' coverage was measured over
    max_horizon: int | None = None  # the longest horizon the version serves
    metrics: list[dict[str, Any]] = field(default_factory=list)  # per step, model beside baselines
    metrics_split: str = "backtest"
    metrics_steps: int = 0  # steps the pooled (step 0) figures cover: those requested, or fewer
    skill: str | None = None  # one plain sentence on skill over the naive forecast
    has_skill: bool | None = None  # False when a baseline is served or the model loses to naive

    @property
    def baseline_served(self) -> bool:
        return is_baseline(self.version.architecture)


def series_forecast(
    *,
    session: Session,
    series: Series,
    version: ModelVersion,
    horizon: int,
    level: float,
    issued_at: datetime,
    points: pd.DataFrame,
    attention: np.ndarray | None,
    coverage_origins: int,
    max_horizon: int | None,
    attention_unit: int = 1,
) -> SeriesForecast:
    """A SeriesForecast with the version's figures for steps 1..horizon and its skill sentence."""
    split, stored = metrics_table(session=session, version_id=version.id)
    metrics, steps = restrict_steps(stored, horizon)  # the figures of the steps asked for only
    return SeriesForecast(
        series_key=series.key,
        frequency=series.frequency,
        version=version,
        strategy=version.strategy,
        horizon=horizon,
        level=level,
        issued_at=issued_at,
        points=points,
        attention=attention,
        attention_unit=attention_unit,
        coverage_origins=coverage_origins,
        max_horizon=max_horizon,
        metrics=metrics,
        metrics_split=split,
        metrics_steps=steps,
        skill=skill_sentence(metrics, architecture=version.architecture, split=split, steps=steps),
        has_skill=has_skill(metrics, version.architecture),
    )


@dataclass(frozen=True)
class ForecastPlan:
    """A checked forecast request: the series, the version it reads, the data it starts from,
    and the horizon and level it runs with (defaults filled in)."""

    series: Series
    version: ModelVersion
    limits: HorizonLimits
    data_end: datetime
    horizon: int
    level: float


def plan_forecast(
    *,
    session: Session,
    series_key: str,
    horizon: int | None = None,
    strategy: str | None = None,
    model: str | int = "champion",
    level: float | None = None,
    max_horizon: int = DEFAULT_MAX_HORIZON,
) -> ForecastPlan:
    """Which version a forecast reads and whether the request is valid, from the database alone
    (no model loaded): every entry point's checks, before any heavy work.

    `strategy` None: recursive for the champion, the version's own for a version id (one that
    contradicts it is an InvalidRequest). `max_horizon` bounds a recursive forecast's steps.
    """
    series = series_db.get_series(session=session, key=series_key)
    version = resolve_version(session=session, series=series, strategy=strategy, model=model)
    limits = version_limits(version)
    h, lvl = check_request(horizon=horizon, level=level, limits=limits, recursive_cap=max_horizon)
    data_end = observations_db.latest_timestamp(session=session, series_id=series.id)
    if data_end is None:
        raise InvalidData(f"series {series_key!r} has no observations yet; ingest it first")
    return ForecastPlan(series, version, limits, data_end, h, lvl)


def usable_stored(*, session: Session, plan: ForecastPlan) -> StoredForecast | None:
    """The forecast the forecast flow stored for exactly this plan, or None (the model runs).

    A stored forecast is the version's own H at its own level, made from the data as it is now
    (same data end and revision). Attention weights are not stored, so an attention model
    always runs; nor are adaptive intervals' coverage before it was kept.
    """
    version, limits = plan.version, plan.limits
    if version.architecture == "seq2seq_attention":
        return None
    if (plan.horizon, plan.level) != (limits.horizon, limits.level):
        return None  # another horizon or level: the model runs
    stored = read_forecast(
        session=session,
        version_id=version.id,
        issued_at=plan.data_end,
        data_revision=plan.series.revision,
    )
    adaptive = (version.feature_spec or {}).get("intervals") is not None
    if stored is None or (adaptive and stored.coverage_origins is None):
        return None
    return stored


def stored_forecast(
    *,
    session: Session,
    series_key: str,
    horizon: int | None = None,
    strategy: str | None = None,
    model: str | int = "champion",
    level: float | None = None,
    max_horizon: int = DEFAULT_MAX_HORIZON,
) -> SeriesForecast | None:
    """The forecast the forecast flow stored for exactly this request, or None: "compute it"
    (forecast_series). A request that is not valid is refused here, before any model loads.
    """
    plan = plan_forecast(
        session=session,
        series_key=series_key,
        horizon=horizon,
        strategy=strategy,
        model=model,
        level=level,
        max_horizon=max_horizon,
    )
    stored = usable_stored(session=session, plan=plan)
    if stored is None:
        return None
    return series_forecast(
        session=session,
        series=plan.series,
        version=plan.version,
        horizon=plan.horizon,
        level=plan.level,
        issued_at=pd.Timestamp(plan.data_end).to_pydatetime(),
        points=stored.points,
        attention=None,
        coverage_origins=stored.coverage_origins or 0,
        max_horizon=plan.limits.max_horizon,
    )


# --- a forecast computed ------------------------------------------------------------------


def _run(*, session: Session, plan: ForecastPlan, trained: Predictor) -> Forecast:
    """The plan's forecast: the one the forecast flow stored when usable, else the model's."""
    from forecaster.forecasting.predictor import (
        Forecast,  # torch: only when no cached forecast serves
    )

    stored = usable_stored(session=session, plan=plan)
    if stored is not None:
        return Forecast(
            pd.Timestamp(plan.data_end),
            stored.points,
            None,
            plan.level,
            coverage_origins=stored.coverage_origins or 0,
        )
    history = observations_db.read_frame(
        session=session, series_id=plan.series.id, variables=trained.variables
    )
    return trained.predict(history, horizon=plan.horizon, level=plan.level)


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

    The request is checked first (plan_forecast: no model loaded); the forecast flow's stored
    forecast serves when it is exactly this one, else the loaded model runs.
    """
    cache = cache or ModelCache()
    plan = plan_forecast(
        session=session,
        series_key=series_key,
        horizon=horizon,
        strategy=strategy,
        model=model,
        level=level,
        max_horizon=max_horizon,
    )
    series, version, h, lvl = plan.series, plan.version, plan.horizon, plan.level
    trained = cache.model(version)
    computed = False

    def compute() -> Forecast:
        nonlocal computed
        computed = True
        return _run(session=session, plan=plan, trained=trained)

    fc = cache.forecast((version.id, plan.data_end, series.revision, h, lvl), compute)
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
        max_horizon=plan.limits.max_horizon,
    )
