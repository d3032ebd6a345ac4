"""Forecasts: the next steps of a series from its champion (or a given version), with intervals,
per-step backtest errors beside the naive baselines, and attention weights when the model has them.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api import render
from api.cache import ForecastCaches
from api.deps import CachesDep, PoolDep
from api.schemas.common import ErrorDetail, ModelRef, SeriesKey, Strategy
from api.schemas.forecasts import ForecastPublic
from forecaster.app.forecasts import SeriesForecast, forecast_series, read_key
from forecaster.checks import MAX_ANY_HORIZON
from forecaster.db import observations as observations_db

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/forecasts", tags=["forecasts"])

FRESH_S = 1.0  # how long a looked-up cache key is trusted without asking the database again
MEMO_MAX = 8192  # remembered lookups (forecast and accuracy reads) before the memo starts over


def _render(session: Session, result: SeriesForecast) -> bytes:
    lookback_ts = None
    if result.attention is not None:  # the heatmap's x axis: the lookback rows' timestamps
        lookback_ts = observations_db.last_timestamps(
            session=session,
            series_id=result.version.series_id,
            n=int(result.attention.shape[-1]) * result.attention_unit,
            end=result.issued_at,
            variables=(result.version.feature_spec or {}).get("variables"),
        )
    return render.forecast_public(result, lookback_ts).model_dump_json().encode()


@router.get(
    "/{series_key}",
    response_model=ForecastPublic,
    responses={
        404: {"model": ErrorDetail, "description": "unknown series or model version"},
        409: {"model": ErrorDetail, "description": "no champion yet: train one first"},
        422: {"model": ErrorDetail, "description": "horizon, level or model not valid"},
        503: {"model": ErrorDetail, "description": "forecast workers busy: retry (Retry-After)"},
    },
)
async def read_forecast(
    series_key: SeriesKey,
    request: Request,
    caches: CachesDep,
    pool: PoolDep,
    horizon: Annotated[
        int | None,
        Query(  # past any cap a setting can give: refused before any query; the version's
            ge=1,  # own limits are checked by forecast_series (forecaster.checks) before it loads
            le=MAX_ANY_HORIZON,
            description="steps ahead; default: the model's own H. At most H for a direct model, "
            "FORECASTER_FORECAST_MAX_HORIZON (1000 by default) for a recursive one",
        ),
    ] = None,
    strategy: Annotated[
        Strategy | None,
        Query(
            description="recursive or direct; default: recursive for the champion, the "
            "version's own with model=ID (a strategy that contradicts that version is a 422)"
        ),
    ] = None,
    model: ModelRef = "champion",
    level: Annotated[
        float | None,  # checks.check_level's bounds, declared so /docs shows them
        Query(gt=0, lt=1, description="prediction-interval level, e.g. 0.9"),
    ] = None,
) -> Response:
    """Forecast the next `horizon` steps; timestamps follow the series' own calendar.

    A read is one small query (which model, how fresh the data) and, on a hit, the cached body.
    A miss runs the model in a small bounded pool (FORECASTER_FORECAST_WORKERS): when every
    worker stays busy past FORECASTER_FORECAST_QUEUE_WAIT_S it answers 503 with Retry-After.
    """
    # A hot read is answered on the event loop from memory: the cache key looked up less than
    # FRESH_S ago and its cached body. Thread-pool hops and a query per read made the p99 tail
    # (bench/api.py). In-process promotions, retrains and ingests clear the memo at once; a
    # change made by another process is seen within FRESH_S.
    memo = caches.memo
    memo_key = (series_key, strategy, str(model), horizon, level)
    now = time.monotonic()
    remembered = memo.get(memo_key)
    if remembered is not None and remembered[1] > now:
        body = caches.bodies.get(remembered[0])
        if body is not None:
            request.app.state.metrics.cache_result(True)
            return Response(body, media_type="application/json")
    read = _ForecastRead(request, caches, series_key, horizon, strategy, model, level)
    # the lookup (one query) and a cache hit never wait for the compute pool
    body, key = await run_in_threadpool(read.lookup)
    if body is None:
        if key is None:  # no such model: forecast_series raises the precise error at once
            body = await run_in_threadpool(read.compute_uncached)
        else:
            body = await pool.run(partial(read.compute, key))
    if key is not None:
        if len(memo) >= MEMO_MAX:  # request parameters are the user's: keep the memo bounded
            memo.clear()
        memo[memo_key] = (key, now + FRESH_S)
    return Response(body, media_type="application/json")


class _ForecastRead:
    """One forecast read, in two steps: look the cache key up, then (on a miss) compute."""

    def __init__(
        self,
        request: Request,
        caches: ForecastCaches,
        series_key: str,
        horizon: int | None,
        strategy: Strategy | None,
        model: str,
        level: float | None,
    ) -> None:
        self.factory = request.app.state.session_factory
        self.metrics = request.app.state.metrics
        self.max_horizon: int = request.app.state.settings.forecast_max_horizon
        self.cache, self.models = caches.bodies, caches.models
        self.series_key, self.horizon, self.strategy = series_key, horizon, strategy
        self.model, self.level = model, level

    def lookup(self) -> tuple[bytes | None, tuple[object, ...] | None]:
        """(cached body or None, cache key or None when there is no such model)."""
        # Not SessionDep: its commit is a second thread-pool hop per request, which under load
        # costs as much as the rest of a cached read (bench/api.py); a read-only transaction.
        with self.factory.begin() as session:
            found = read_key(
                session=session,
                series_key=self.series_key,
                strategy=None if self.strategy is None else self.strategy.value,
                model=self.model,
            )
        if found is None:
            return None, None
        key = (*found, self.horizon, self.level)
        body = self.cache.get(key)
        if body is not None:
            self.metrics.cache_result(True)
        return body, key

    def _forecast(self, session: Session) -> bytes:
        result = forecast_series(
            session=session,
            series_key=self.series_key,
            horizon=self.horizon,
            strategy=None if self.strategy is None else self.strategy.value,
            model=self.model,
            level=self.level,
            cache=self.models,
            max_horizon=self.max_horizon,
        )
        return _render(session, result)

    def compute(self, key: tuple[object, ...]) -> bytes:
        """Run the model (on a pool thread) and cache the body; concurrent misses share one run."""
        with self.factory.begin() as session:
            body, hit = self.cache.get_or_compute(key, partial(self._forecast, session))
        self.metrics.cache_result(hit)
        return body

    def compute_uncached(self) -> bytes:
        with self.factory.begin() as session:
            return self._forecast(session)
