"""Read-only questions answered from the database alone: versions, champions, metrics, stored
forecasts.

Nothing here (nor anything it imports) loads torch or Prefect, so the CLI's read commands
(`series`, `models`, `runs`, `forecast` of a stored forecast) start fast. `forecaster.registry`
and `forecaster.service` re-export these names; the training stack builds on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from forecaster.architectures import is_baseline
from forecaster.db import observations as observations_db
from forecaster.db import series as series_db
from forecaster.db.forecast_cache import read_forecast
from forecaster.db.models import Evaluation as EvaluationRow
from forecaster.db.models import ModelVersion, Series
from forecaster.errors import InvalidRequest, NoChampion, UnknownModel
from forecaster.skill import has_skill, restrict_steps, skill_sentence

if TYPE_CHECKING:
    import numpy as np

STRATEGIES = ("recursive", "direct")
DEFAULT_MAX_HORIZON = 1000  # Settings.forecast_max_horizon's default
MAX_VERSION_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL


# --- versions --------------------------------------------------------------------------------


def get_version(*, session: Session, version_id: int) -> ModelVersion:
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise UnknownModel(
            f"unknown model version {version_id}; GET /api/v1/models lists the versions"
        )
    return version


def list_versions(
    *, session: Session, series_id: int | None = None, status: str | None = None
) -> Sequence[ModelVersion]:
    # weights stay in the database until a model is loaded: listings never pull megabytes
    q = select(ModelVersion).options(defer(ModelVersion.weights)).order_by(ModelVersion.id.desc())
    if series_id is not None:
        q = q.where(ModelVersion.series_id == series_id)
    if status is not None:
        q = q.where(ModelVersion.status == status)
    return session.scalars(q).all()


def find_champion(*, session: Session, series_id: int, strategy: str) -> ModelVersion | None:
    return session.scalar(
        select(ModelVersion).where(
            ModelVersion.series_id == series_id,
            ModelVersion.strategy == strategy,
            ModelVersion.status == "champion",
        )
    )


def get_champion(
    *, session: Session, series_id: int, strategy: str, series_key: str = ""
) -> ModelVersion:
    champion = find_champion(session=session, series_id=series_id, strategy=strategy)
    if champion is None:
        key = series_key or str(series_id)
        raise NoChampion(
            f"series {key!r} has no {strategy} champion yet; train one with "
            f"`forecaster train {key} --strategy {strategy}` or POST /api/v1/runs "
            f'{{"kind": "retrain", "series": ["{key}"]}}'
        )
    return champion


def version_metrics(*, session: Session, version_id: int) -> Sequence[EvaluationRow]:
    return session.scalars(
        select(EvaluationRow)
        .where(EvaluationRow.model_version_id == version_id)
        .order_by(
            EvaluationRow.split,
            EvaluationRow.variable,
            EvaluationRow.metric,
            EvaluationRow.step,
            EvaluationRow.model,
        )
    ).all()


def metrics_table(
    *, session: Session, version_id: int, splits: tuple[str, ...] = ("backtest", "test")
) -> tuple[str, list[dict[str, Any]]]:
    """The version's figures per (variable, step, metric), the model beside both baselines.

    Uses the first split of `splits` the version has (the recent backtest when it was scored on one).
    """
    rows = version_metrics(session=session, version_id=version_id)
    have = {r.split for r in rows}
    split = next((s for s in splits if s in have), "")
    cells: dict[tuple[str, int, str], dict[str, Any]] = {}
    for r in rows:
        if r.split != split:
            continue
        cell = cells.setdefault(
            (r.variable, r.step, r.metric),
            {
                "variable": r.variable,
                "step": r.step,
                "metric": r.metric,
                "model": None,
                "naive": None,
                "seasonal_naive": None,
            },
        )
        cell[r.model] = r.value
    return split, [cells[k] for k in sorted(cells)]


# --- which version a forecast uses -----------------------------------------------------------


def horizon_cap(version: ModelVersion, *, recursive_max: int = DEFAULT_MAX_HORIZON) -> int:
    """The longest horizon a forecast from this version may ask for.

    Direct: the H it was trained to emit. Recursive: the configured bound on steps rolled
    forward (each step is a model call, so this bounds a read's CPU time).
    """
    if version.strategy == "direct":
        return int((version.hyperparameters or {}).get("horizon") or 1)
    return recursive_max


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
            strategy=strategy or "recursive",
            series_key=series.key,
        )
    try:
        version_id = int(model)
    except ValueError:
        version_id = 0
    if not 1 <= version_id <= MAX_VERSION_ID:  # a larger number overflows the databases' ids
        raise InvalidRequest(
            f"model={model!r} is neither 'champion' nor a model version id "
            f"(1..{MAX_VERSION_ID}; `forecaster models` or GET /api/v1/models lists them)"
        )
    version = get_version(session=session, version_id=version_id)
    if version.series_id != series.id:
        raise UnknownModel(
            f"model version {version_id} belongs to another series, not {series.key!r}; "
            f"GET /api/v1/models?series={series.key} lists this series' versions"
        )
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


def version_max_horizon(version: ModelVersion) -> int | None:
    """What TrainedModel.max_horizon says, from the stored JSON (None: a baseline, no limit)."""
    if is_baseline(version.architecture):
        return None
    h = int((version.hyperparameters or {}).get("horizon") or 1)
    intervals = (version.feature_spec or {}).get("intervals")
    if version.strategy == "recursive" and intervals is not None:
        return int(intervals["max_horizon"])
    return h


def stored_forecast(
    *,
    session: Session,
    series_key: str,
    horizon: int | None = None,
    strategy: str | None = None,
    model: str | int = "champion",
    level: float | None = None,
) -> SeriesForecast | None:
    """The forecast the forecast flow stored for exactly this request, or None.

    A stored forecast is the version's own H at its own level, made from the data as it is now
    (same data end and revision). It carries no attention weights. None means "compute it"
    (forecaster.service.forecast_series); errors in the request are raised as there.
    """
    series = series_db.get_series(session=session, key=series_key)
    version = resolve_version(session=session, series=series, strategy=strategy, model=model)
    spec = version.hyperparameters or {}
    own_h, own_level = int(spec.get("horizon") or 0), float(spec.get("level") or 0.9)
    if version.architecture == "seq2seq_attention":
        return None  # its attention weights are not stored: the model runs
    if horizon not in (None, own_h) or level not in (None, own_level):
        return None  # another horizon or level: the model runs (and checks them)
    data_end = observations_db.latest_timestamp(session=session, series_id=series.id)
    if data_end is None:
        return None
    stored = read_forecast(
        session=session, version_id=version.id, issued_at=data_end, data_revision=series.revision
    )
    adaptive = (version.feature_spec or {}).get("intervals") is not None
    if stored is None or (adaptive and stored.coverage_origins is None):
        return None  # stored before coverage was kept: the model recomputes it
    return series_forecast(
        session=session,
        series=series,
        version=version,
        horizon=own_h,
        level=own_level,
        issued_at=pd.Timestamp(data_end).to_pydatetime(),
        points=stored.points,
        attention=None,
        coverage_origins=stored.coverage_origins or 0,
        max_horizon=version_max_horizon(version),
    )
