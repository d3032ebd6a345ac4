"""Replay a bundled history day by day, in accelerated time, against a real database: ingest
(which scores the logged forecasts) -> the scheduled forecast (logged) -> the retrain policy, and
report what a user would have seen: live error per week, each retrain with its reason, coverage.

The retrain itself is the caller's (the CLI passes the real retrain flow): this module claims the
run with its trigger and reason through the same path as the API (forecaster.app.runs.claim).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.app import runs
from forecaster.app.accuracy import evaluate_policy
from forecaster.app.ingest import store_frame
from forecaster.app.model_cache import ModelCache
from forecaster.app.training import precompute_forecasts
from forecaster.db import series as series_db
from forecaster.db.models import ForecastLogPoint
from forecaster.errors import InvalidRequest, RunInProgress, UnknownSeries
from forecaster.policy import RetrainPolicy
from forecaster.sources.csv import load_sample
from forecaster.sources.samples import SAMPLES, get_sample
from forecaster.values import finite_or_none

logger = logging.getLogger(__name__)

Schedule = Literal["policy", "weekly", "both", "never"]
SCHEDULES: tuple[str, ...] = ("policy", "weekly", "both", "never")
Retrain = Callable[[int], dict[str, Any]]  # run id -> the retrain flow's result


@dataclass
class RetrainEvent:
    day: date
    trigger: str  # replay (the first champion) | policy | schedule
    reason: str
    run_id: int
    promoted: list[int] = field(default_factory=list)  # candidates promoted
    served: list[str] = field(default_factory=list)  # "recursive v4 (naive)" after the retrain


@dataclass
class ReplayReport:
    series: str
    schedule: str
    days: int
    weeks: pd.DataFrame  # week, strategy, origins, points, mae, naive_mae, mase, coverage
    events: list[RetrainEvent]
    totals: dict[str, dict[str, float | int | None]]  # per strategy, over the whole replay

    @property
    def retrains(self) -> int:
        """Retrains during the replay (not the first champion's)."""
        return sum(e.trigger != "replay" for e in self.events)


def history(series_key: str) -> tuple[pd.DataFrame, str]:
    """A bundled sample's frame and frequency (UnknownSeries lists the bundled keys)."""
    try:
        sample = get_sample(series_key)
    except Exception as exc:
        keys = ", ".join(s.key for s in SAMPLES)
        raise UnknownSeries(
            f"no bundled history {series_key!r} to replay; bundled: {keys}"
        ) from exc
    return load_sample(series_key), sample.frequency


def _claim(sessions: sessionmaker[Session], key: str, trigger: str, reason: str) -> int:
    with sessions.begin() as session:
        return runs.claim(
            session=session,
            kind="retrain",
            series=[key],
            parameters={"series": [key], "executor": runs.Executor.here().to_json("replay")},
            policy=runs.LeasePolicy.from_env(),
            exclusive=True,
            trigger=trigger,
            reason=reason,
        ).id


def replay(
    *,
    sessions: sessionmaker[Session],
    series_key: str,
    start: date,
    retrain: Retrain,
    end: date | None = None,
    schedule: str = "policy",
    policy: RetrainPolicy | None = None,
    frame: pd.DataFrame | None = None,
    frequency: str | None = None,
    progress: Callable[[date], None] | None = None,
) -> ReplayReport:
    """Replay `series_key`'s bundled history (or `frame`) from `start` to `end` (its end).

    The database gets the history before `start` and a first champion (a retrain, trigger
    "replay"); then each day: that day's rows are ingested (scoring what they settle), the
    champions' forecasts are precomputed (and logged), and retrains start per `schedule`:
    "policy" (forecaster.app.accuracy), "weekly" (each Monday, or the first day of a week),
    "both" (the policy with the weekly fallback) or "never".

    Raises:
        InvalidRequest: an unknown schedule, or a start outside the history.
    """
    if schedule not in SCHEDULES:
        raise InvalidRequest(f"schedule={schedule!r} is not one of {', '.join(SCHEDULES)}")
    if frame is None:
        frame, frequency = history(series_key)
    rule = policy or RetrainPolicy()
    index = pd.DatetimeIndex(frame.index)
    first, last = _window(index, start, end)
    _seed(sessions, series_key, frame.iloc[:first], frequency or "D")
    do_retrain = _Retrainer(sessions, series_key, retrain)
    first_day = index[first - 1].date()
    do_retrain(first_day, "replay", f"the first champion, trained on the data to {first_day}")
    cache = ModelCache()
    week = None
    for row in range(first, last):
        day = index[row].date()
        _serve_day(sessions, series_key, frame.iloc[row : row + 1], cache)
        new_week = day.isocalendar()[:2] != week
        week = day.isocalendar()[:2]
        reasons: list[str] = []
        if schedule in ("policy", "both"):
            reasons = _policy_reasons(sessions, series_key, rule)
        if reasons:
            do_retrain(day, "policy", " | ".join(reasons))
        elif schedule in ("weekly", "both") and new_week and row > first:
            do_retrain(day, "schedule", f"the weekly schedule (week {week[1]} of {week[0]})")
        if progress is not None:
            progress(day)
    with sessions.begin() as session:
        weeks, totals = summarize(session=session, series_key=series_key)
    return ReplayReport(series_key, schedule, last - first, weeks, do_retrain.events, totals)


def _window(index: pd.DatetimeIndex, start: date, end: date | None) -> tuple[int, int]:
    """The rows [first, last) to replay: from `start` to `end` (inclusive; None: to the end)."""
    first = int(index.searchsorted(pd.Timestamp(start)))
    last = len(index) if end is None else int(index.searchsorted(pd.Timestamp(end), side="right"))
    if not 0 < first < last:
        raise InvalidRequest(
            f"start={start} must fall inside the history ({index[0]:%Y-%m-%d} .. "
            f"{index[-1]:%Y-%m-%d}) and before end={end}"
        )
    return first, last


def _seed(
    sessions: sessionmaker[Session], series_key: str, before: pd.DataFrame, frequency: str
) -> None:
    """Register the series in an empty database and store the history before the replay."""
    with sessions.begin() as session:
        if series_key in {s.key for s in series_db.list_series(session=session)}:
            raise InvalidRequest(
                f"series {series_key!r} already exists in this database; replay into an empty one"
            )
        series_db.register_series(
            session=session, key=series_key, source="csv", params={}, frequency=frequency
        )
        store_frame(session=session, series_key=series_key, frame=before)


@dataclass
class _Retrainer:
    """Claims a retrain run (skipped while one is in progress), runs it, records the event."""

    sessions: sessionmaker[Session]
    series_key: str
    retrain: Retrain
    events: list[RetrainEvent] = field(default_factory=list)

    def __call__(self, day: date, trigger: str, reason: str) -> None:
        try:
            run_id = _claim(self.sessions, self.series_key, trigger, reason)
        except RunInProgress:  # one per series at a time
            return
        out = self.retrain(run_id)
        served = [
            f"{c['strategy']} v{c['version_id']} ({c['architecture']})"
            for c in out.get("served", [])
        ]
        self.events.append(
            RetrainEvent(day, trigger, reason, run_id, list(out.get("promoted", [])), served)
        )
        logger.info("%s %s: retrain %d (%s): %s", self.series_key, day, run_id, trigger, reason)


def _serve_day(
    sessions: sessionmaker[Session], series_key: str, rows: pd.DataFrame, cache: ModelCache
) -> None:
    """One day of service: ingest its rows, then the scheduled forecast."""
    with sessions.begin() as session:  # ingest: scores the logged forecasts it settles
        store_frame(session=session, series_key=series_key, frame=rows)
    with sessions.begin() as session:  # the scheduled forecast: logged to be scored
        precompute_forecasts(session=session, series_key=series_key, cache=cache)


def _policy_reasons(
    sessions: sessionmaker[Session], series_key: str, rule: RetrainPolicy
) -> list[str]:
    """The policy's reasons to retrain now (empty: no retrain)."""
    with sessions.begin() as session:
        verdicts = evaluate_policy(session=session, series_key=series_key, policy=rule)
    return [v.reason for v in verdicts if v.retrain]


_WEEK_COLUMNS = ["week", "strategy", "origins", "points", "mae", "naive_mae", "mase", "coverage"]


def summarize(
    *, session: Session, series_key: str
) -> tuple[pd.DataFrame, dict[str, dict[str, float | int | None]]]:
    """Live figures of what was served, per week of origin and strategy, and over everything.

    Where a retrain promoted a new champion on the day, the origin's first forecast (the one
    served on schedule) counts."""
    series = series_db.get_series(session=session, key=series_key)
    df = _scored_points(session=session, series_id=series.id)
    if df.empty:
        return pd.DataFrame(columns=_WEEK_COLUMNS), {}
    weeks = pd.DataFrame(
        [
            {"week": w, "strategy": s, **_figures(g)}
            for (w, s), g in df.groupby(["week", "strategy"])
        ]
    )
    totals = {
        str(s): {
            str(k): v if isinstance(v, int) else finite_or_none(v) for k, v in _figures(g).items()
        }
        for s, g in df.groupby("strategy")
    }
    return weeks, totals


def _scored_points(*, session: Session, series_id: int) -> pd.DataFrame:
    """The series' scored logged points, each origin's first forecast only, with their errors,
    whether inside the interval, and the week of the origin (empty: nothing scored yet)."""
    log = ForecastLogPoint
    rows = session.execute(
        select(
            log.origin,
            log.strategy,
            log.step,
            log.variable,
            log.value,
            log.lower,
            log.upper,
            log.naive,
            log.actual,
            log.logged_at,
        ).where(log.series_id == series_id)
    ).all()
    cols = ["origin", "strategy", "step", "variable", "value", "lower", "upper", "naive", "actual"]
    df = pd.DataFrame(rows, columns=[*cols, "logged_at"])
    if df.empty:
        return df
    df = df.sort_values("logged_at").drop_duplicates(
        ["origin", "strategy", "step", "variable"], keep="first"
    )
    df = df[df["actual"].notna()].astype(dict.fromkeys(cols[4:], "float64"))
    if df.empty:
        return df
    df["err"] = (df["actual"] - df["value"]).abs()
    df["nerr"] = (df["actual"] - df["naive"]).abs()
    bounded = df["lower"].notna() & df["upper"].notna()
    df["inside"] = ((df["actual"] >= df["lower"]) & (df["actual"] <= df["upper"])).where(bounded)
    df["week"] = pd.to_datetime(df["origin"]).dt.to_period("W-SUN").dt.start_time.dt.date
    return df


def _figures(g: pd.DataFrame) -> dict[str, Any]:
    paired = g["nerr"].notna()
    naive = float(g.loc[paired, "nerr"].sum())
    return {
        "origins": int(g["origin"].nunique()),
        "points": len(g),
        "mae": float(g["err"].mean()),
        "naive_mae": float(g["nerr"].mean()) if paired.any() else math.nan,
        "mase": float(g.loc[paired, "err"].sum()) / naive if naive > 0 else math.nan,
        "coverage": float(g["inside"].mean()) if g["inside"].notna().any() else math.nan,
    }  # plain values: the counts stay integers
