"""Shape domain objects into response schemas (no queries, no decisions: only presentation)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from api import redact
from api.schemas.forecasts import AttentionPublic, ForecastPointPublic, ForecastPublic
from api.schemas.models import GlobalModelRef, ModelDetail, ModelPublic, StepMetrics
from forecaster.app.forecasts import SeriesForecast
from forecaster.architectures import variant_label
from forecaster.db.models import Evaluation, ModelVersion
from forecaster.values import finite_or_none

BASELINES = ("model", "naive", "seasonal_naive")


def model_public(version: ModelVersion, series_key: str, *, full: bool = False) -> ModelPublic:
    """`full`: the stored training error as it is (for a request with the API key); else one
    sanitized line (api/redact.py)."""
    spec = version.hyperparameters or {}
    meta = version.feature_spec or {}
    return ModelPublic(
        id=version.id,
        series=series_key,
        architecture=version.architecture,
        label=variant_label(version.architecture, spec),
        strategy=version.strategy,
        status=version.status,
        lookback=spec.get("lookback"),
        horizon=spec.get("horizon"),
        targets=list(meta.get("targets") or spec.get("targets") or []),
        variables=list(meta.get("variables") or spec.get("inputs") or []),
        config=spec,
        train_start=version.train_start,
        train_end=version.train_end,
        data_range=dict(meta.get("data_range") or {}),
        primary_metric=version.primary_metric,
        primary_score=version.primary_score,
        has_attention=version.architecture == "seq2seq_attention",
        fit=meta.get("fit"),
        error=meta.get("error") if full else redact.reason(meta.get("error")),
        run_id=version.run_id,
        created_at=version.created_at,
        promoted_at=version.promoted_at,
        global_model=global_ref(version),
    )


def global_ref(version: ModelVersion) -> GlobalModelRef | None:
    row = version.global_model if version.global_model_id is not None else None
    if row is None:
        return None
    return GlobalModelRef(
        id=row.id, group=row.group, members=list(row.members), embedding_dim=row.embedding_dim
    )


def step_metrics(cells: Iterable[dict[str, Any]]) -> list[StepMetrics]:
    """Rows {variable, step, metric, model, naive, seasonal_naive} grouped per (variable, step)."""
    grouped: dict[tuple[str, int], StepMetrics] = {}
    for cell in cells:
        key = (str(cell["variable"]), int(cell["step"]))
        row = grouped.get(key)
        if row is None:
            row = grouped[key] = StepMetrics(
                variable=key[0], step=key[1], model={}, naive={}, seasonal_naive={}
            )
        for who in BASELINES:
            getattr(row, who)[str(cell["metric"])] = finite_or_none(cell.get(who))
    return [grouped[k] for k in sorted(grouped)]


def model_detail(
    version: ModelVersion, series_key: str, rows: Sequence[Evaluation], *, full: bool = False
) -> ModelDetail:
    cells: dict[str, dict[tuple[str, int, str], dict[str, Any]]] = {}
    for r in rows:
        cell = cells.setdefault(r.split, {}).setdefault(
            (r.variable, r.step, r.metric),
            {"variable": r.variable, "step": r.step, "metric": r.metric},
        )
        cell[r.model] = r.value
    return ModelDetail(
        **model_public(version, series_key, full=full).model_dump(),
        metrics={split: step_metrics(c.values()) for split, c in sorted(cells.items())},
    )


def _ts(value: Any) -> datetime:
    return pd.Timestamp(value).to_pydatetime()


def attention_public(
    weights: np.ndarray, *, unit: int, horizon: int, lookback_ts: Sequence[datetime]
) -> AttentionPublic:
    """weights (rows, cols), each row and column `unit` steps, with what a reader needs to judge
    them: the uniform weight, each row's entropy relative to uniform and the spans covered."""
    rows, cols = weights.shape
    p = np.clip(weights, 0.0, None)
    entropy = -(p * np.log(np.clip(p, 1e-12, None))).sum(axis=1)
    relative = entropy / math.log(cols) if cols > 1 else np.zeros(rows)
    stamps = list(lookback_ts)[-cols * unit :]
    spans = len(stamps) == cols * unit  # else the lookback's timestamps are unknown
    return AttentionPublic(
        resolution="segment" if unit > 1 else "step",
        segment_len=unit,
        weights=np.round(weights, 6).tolist(),
        uniform=1.0 / cols,
        row_entropy=np.round(relative, 4).tolist(),
        row_steps=[[r * unit + 1, min((r + 1) * unit, horizon)] for r in range(rows)],
        lookback_ts=stamps,
        column_start_ts=stamps[::unit] if spans else [],
        column_end_ts=stamps[unit - 1 :: unit] if spans else [],
    )


def forecast_public(
    result: SeriesForecast, lookback_ts: Sequence[datetime] | None = None
) -> ForecastPublic:
    p = result.points  # step, ts, variable, value, lower, upper[, coverage, width]
    missing = [None] * len(p)
    points = [
        ForecastPointPublic(
            step=int(step),
            ts=_ts(ts),
            variable=str(variable),
            value=float(value),
            lower=finite_or_none(lower),
            upper=finite_or_none(upper),
            coverage=finite_or_none(cov),
            width=finite_or_none(width),
        )
        for step, ts, variable, value, lower, upper, cov, width in zip(
            p["step"].tolist(),
            p["ts"].tolist(),
            p["variable"].tolist(),
            p["value"].tolist(),
            p["lower"].tolist(),
            p["upper"].tolist(),
            p["coverage"].tolist() if "coverage" in p else missing,
            p["width"].tolist() if "width" in p else missing,
            strict=True,
        )
    ]
    metrics = step_metrics(result.metrics)
    attention = None
    if result.attention is not None:
        attention = attention_public(
            np.asarray(result.attention, dtype=np.float64),
            unit=result.attention_unit,
            horizon=result.horizon,
            lookback_ts=list(lookback_ts or []),
        )
    return ForecastPublic(
        series=result.series_key,
        model=model_public(result.version, result.series_key),
        strategy=result.strategy,
        horizon=result.horizon,
        level=result.level,
        max_horizon=result.max_horizon,
        coverage_origins=result.coverage_origins,
        issued_at=result.issued_at,
        points=points,
        metrics_split=result.metrics_split,
        metrics_steps=result.metrics_steps,
        metrics=metrics,
        skill=result.skill,
        has_skill=result.has_skill,
        baseline_served=result.baseline_served,
        attention=attention,
    )
