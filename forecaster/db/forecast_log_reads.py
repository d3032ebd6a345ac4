"""Reads of the `forecast_log` table: live accuracy sums per version, variable and step, the
forecasts served at recent origins with what happened, the accuracy cache stamp and the
champions' live figures (the Prometheus gauges). Writes and scoring are in forecast_log.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from forecaster.db.models import ForecastLogPoint, ModelVersion, Series

LOG = ForecastLogPoint


@dataclass(frozen=True)
class LiveCell:
    """Sums over scored points of one version, variable and step: pooled by adding them up."""

    version_id: int
    variable: str
    step: int
    n: int
    abs_err: float
    sq_err: float
    n_naive: int
    abs_naive: float
    sq_naive: float
    abs_paired: float  # the model's |error| on the points that have a naive forecast too
    n_interval: int
    inside: int
    level: float | None
    origins: int
    first_origin: datetime
    last_origin: datetime
    last_scored_at: datetime | None


def live_cells(
    *,
    session: Session,
    series_id: int,
    strategy: str | None = None,
    since: datetime | None = None,
    steps: int | None = None,
    version_id: int | None = None,
    origins_after: datetime | None = None,
) -> list[LiveCell]:
    """The scored points' sums per (version, variable, step), one GROUP BY in the database.

    `origins_after` keeps points first logged after that time (the policy's evidence about a
    champion since its last retrain)."""
    where = _live_filters(
        series_id=series_id,
        strategy=strategy,
        since=since,
        steps=steps,
        version_id=version_id,
        origins_after=origins_after,
    )
    q = (
        select(LOG.model_version_id, LOG.variable, LOG.step, *_live_sums())
        .where(*where)
        .group_by(LOG.model_version_id, LOG.variable, LOG.step)
        .order_by(LOG.model_version_id, LOG.variable, LOG.step)
    )
    return [_live_cell(r) for r in session.execute(q).all()]


def _live_filters(
    *,
    series_id: int,
    strategy: str | None,
    since: datetime | None,
    steps: int | None,
    version_id: int | None,
    origins_after: datetime | None,
) -> list[Any]:
    """The WHERE clauses of `live_cells`: the series' scored points, narrowed by what is given."""
    where = [LOG.series_id == series_id, LOG.actual.is_not(None)]
    if strategy is not None:
        where.append(LOG.strategy == strategy)
    if since is not None:
        where.append(LOG.origin >= since)
    if steps is not None:
        where.append(LOG.step <= steps)
    if version_id is not None:
        where.append(LOG.model_version_id == version_id)
    if origins_after is not None:
        where.append(LOG.logged_at > origins_after)
    return where


def _live_sums() -> tuple[Any, ...]:
    """The aggregates of one LiveCell, in its field order after (version, variable, step)."""
    err = LOG.actual - LOG.value
    nerr = LOG.actual - LOG.naive
    has_naive = LOG.naive.is_not(None)
    has_interval = and_(LOG.lower.is_not(None), LOG.upper.is_not(None))
    return (
        func.count(),
        func.sum(func.abs(err)),
        func.sum(err * err),
        func.sum(case((has_naive, 1), else_=0)),
        func.sum(case((has_naive, func.abs(nerr)), else_=0.0)),
        func.sum(case((has_naive, nerr * nerr), else_=0.0)),
        func.sum(case((has_naive, func.abs(err)), else_=0.0)),
        func.sum(case((has_interval, 1), else_=0)),
        func.sum(case((and_(has_interval, LOG.actual.between(LOG.lower, LOG.upper)), 1), else_=0)),
        func.max(LOG.level),
        func.count(func.distinct(LOG.origin)),
        func.min(LOG.origin),
        func.max(LOG.origin),
        func.max(LOG.scored_at),
    )


def _live_cell(r: Any) -> LiveCell:
    return LiveCell(
        version_id=int(r[0]),
        variable=str(r[1]),
        step=int(r[2]),
        n=int(r[3]),
        abs_err=float(r[4] or 0.0),
        sq_err=float(r[5] or 0.0),
        n_naive=int(r[6] or 0),
        abs_naive=float(r[7] or 0.0),
        sq_naive=float(r[8] or 0.0),
        abs_paired=float(r[9] or 0.0),
        n_interval=int(r[10] or 0),
        inside=int(r[11] or 0),
        level=None if r[12] is None else float(r[12]),
        origins=int(r[13]),
        first_origin=r[14],
        last_origin=r[15],
        last_scored_at=r[16],
    )


def last_origins(
    *, session: Session, version_id: int, n: int, origins_after: datetime | None = None
) -> list[datetime]:
    """The version's `n` most recent origins with at least one scored point, newest first."""
    q = (
        select(LOG.origin)
        .where(LOG.model_version_id == version_id, LOG.actual.is_not(None))
        .group_by(LOG.origin)
        .order_by(LOG.origin.desc())
        .limit(n)
    )
    if origins_after is not None:
        q = q.where(LOG.logged_at > origins_after)
    return list(session.scalars(q).all())


def past_forecasts(
    *, session: Session, series_id: int, strategy: str, origins: int, variable: str | None = None
) -> pd.DataFrame:
    """The forecasts issued at the last `origins` origins (any version), with what happened:
    version, origin, step, ts, variable, value, lower, upper, naive, actual."""
    recent = (
        select(LOG.origin)
        .where(LOG.series_id == series_id, LOG.strategy == strategy)
        .group_by(LOG.origin)
        .order_by(LOG.origin.desc())
        .limit(origins)
        .subquery()
    )
    q = (
        select(
            LOG.model_version_id,
            LOG.origin,
            LOG.step,
            LOG.ts,
            LOG.variable,
            LOG.value,
            LOG.lower,
            LOG.upper,
            LOG.naive,
            LOG.actual,
        )
        .where(
            LOG.series_id == series_id,
            LOG.strategy == strategy,
            LOG.origin.in_(select(recent.c.origin)),
        )
        .order_by(LOG.origin, LOG.model_version_id, LOG.variable, LOG.step)
    )
    if variable is not None:
        q = q.where(LOG.variable == variable)
    cols = ["version_id", "origin", "step", "ts", "variable", "value", "lower", "upper", "naive"]
    return pd.DataFrame(session.execute(q).all(), columns=[*cols, "actual"])


def accuracy_stamp(*, session: Session, series_key: str, strategy: str) -> tuple[Any, ...] | None:
    """What a series' accuracy report for one strategy is computed from: the series' data
    revision, its log's size and newest origin, logging and scoring, and its versions (count,
    newest, champions, archived). Equal stamps give equal reports (a cache key); None for an
    unknown series. One statement (it is what a cached accuracy read costs)."""
    mv = ModelVersion

    def log(agg: Any) -> Any:
        return (
            select(agg)
            .where(LOG.series_id == Series.id, LOG.strategy == strategy)
            .scalar_subquery()
        )

    def versions(agg: Any) -> Any:
        return select(agg).where(mv.series_id == Series.id).scalar_subquery()

    found = session.execute(
        select(
            Series.id,
            Series.revision,
            log(func.count()),
            log(func.max(LOG.origin)),
            log(func.max(LOG.logged_at)),
            log(func.max(LOG.scored_at)),
            versions(func.count()),
            versions(func.max(mv.id)),
            versions(func.sum(case((mv.status == "champion", mv.id), else_=0))),
            versions(func.sum(case((mv.status == "archived", mv.id), else_=0))),
        ).where(Series.key == series_key)
    ).first()
    return None if found is None else tuple(found)


def champion_summary(*, session: Session) -> list[dict[str, Any]]:
    """Per series and strategy, the current champion's live figures over everything it served:
    key, strategy, MAE ratio to naive, coverage, newest scored origin (the Prometheus gauges)."""
    err = func.abs(LOG.actual - LOG.value)
    has_naive = LOG.naive.is_not(None)
    has_interval = and_(LOG.lower.is_not(None), LOG.upper.is_not(None))
    q = (
        select(
            Series.key,
            LOG.strategy,
            func.sum(case((has_naive, err), else_=0.0)),
            func.sum(case((has_naive, func.abs(LOG.actual - LOG.naive)), else_=0.0)),
            func.sum(case((has_interval, 1), else_=0)),
            func.sum(
                case((and_(has_interval, LOG.actual.between(LOG.lower, LOG.upper)), 1), else_=0)
            ),
            func.max(LOG.origin),
        )
        .join(ModelVersion, ModelVersion.id == LOG.model_version_id)
        .join(Series, Series.id == LOG.series_id)
        .where(ModelVersion.status == "champion", LOG.actual.is_not(None))
        .group_by(Series.key, LOG.strategy)
        .order_by(Series.key, LOG.strategy)
    )
    out = []
    for key, strategy, paired, naive, n_int, inside, newest in session.execute(q).all():
        out.append(
            {
                "series": str(key),
                "strategy": str(strategy),
                "mase": float(paired) / float(naive) if naive else None,
                "coverage": float(inside) / float(n_int) if n_int else None,
                "last_origin": newest,
            }
        )
    return out
