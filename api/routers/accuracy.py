"""Live accuracy of a series' served forecasts: scored against what happened, beside the naive
forecast of the same origin and the version's backtest; and the past forecasts themselves."""

from __future__ import annotations

import math
import random
import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.cache import RevisionCache
from api.deps import SessionDep
from api.routers.forecasts import FRESH_S, MEMO_MAX
from api.schemas.accuracy import AccuracyPublic, PastForecasts
from api.schemas.common import ErrorDetail, QueryTimestamp, Strategy
from forecaster.app.accuracy import accuracy
from forecaster.db import series as series_db
from forecaster.db.forecast_log_reads import accuracy_stamp, past_forecasts

router = APIRouter(prefix="/series", tags=["accuracy"])

MAX_KEY = 100


@router.get(
    "/{series_key}/accuracy",
    response_model=AccuracyPublic,
    responses={404: {"model": ErrorDetail, "description": "unknown series"}},
)
async def read_accuracy(
    request: Request,
    series_key: Annotated[str, Path(max_length=MAX_KEY)],
    since: Annotated[
        QueryTimestamp | None, Query(description="only forecasts issued at or after this time")
    ] = None,
    strategy: Strategy = Strategy.recursive,
    steps: Annotated[
        int | None, Query(ge=1, le=1000, description="only steps 1..steps (pooled as step 0)")
    ] = None,
) -> Response:
    """Live MAE, RMSE, MASE against the naive forecast and interval coverage of every version
    that served this series and strategy, per variable and step, beside its backtest figures.

    A report is cached under what it is computed from (the series' data revision, its forecast
    log's size, newest origin and scoring, its versions): a repeated read costs three small
    queries, and none within FRESH_S of the last lookup: a hot read is answered on the event
    loop from memory, as a forecast read is (a query per read put /health's own p99 past 50 ms
    under 32 readers, bench/monitoring.py route). In-process ingests, retrains and promotions
    clear that memo at once; a change made by another process is seen within FRESH_S."""
    memo = request.app.state.caches.memo
    reports: RevisionCache = request.app.state.accuracy_cache
    request_key = ("accuracy", series_key, strategy.value, since, steps)
    now = time.monotonic()
    remembered = memo.get(request_key)
    factory = request.app.state.session_factory
    if remembered is not None:
        body = reports.get(remembered[0])
        if body is not None and remembered[1] <= now:
            # Expired: is the stamp unchanged? One indexed statement, run here on the loop: a
            # thread-pool hop per lookup (GIL hand-offs with the loop serving the hot reads)
            # was the p99 tail, several times the statement's own cost.
            with factory.begin() as session:
                stamp = accuracy_stamp(
                    session=session, series_key=series_key, strategy=strategy.value
                )
            if (*remembered[0][:-1], stamp) != remembered[0]:
                body = None
            else:
                memo[request_key] = (remembered[0], now + FRESH_S * random.uniform(0.5, 1.0))
        if body is not None:
            return Response(body, media_type="application/json")
    key, body = await run_in_threadpool(
        _report, factory, reports, series_key, strategy.value, since, steps
    )
    # trusted for a random 50-100 % of FRESH_S: readers that started together do not all look
    # their reports up again in the same instant (a burst of lookups was the p99 tail)
    if len(memo) >= MEMO_MAX:  # `since` is the user's: keep the memo bounded
        memo.clear()
    memo[request_key] = (key, now + FRESH_S * random.uniform(0.5, 1.0))
    return Response(body, media_type="application/json")


def _report(
    factory: Any,
    reports: RevisionCache,
    series_key: str,
    strategy: str,
    since: datetime | None,
    steps: int | None,
) -> tuple[tuple[object, ...], bytes]:
    """(cache key, report body): the cached body when the stamp is unchanged, else computed."""
    with factory.begin() as session:  # read-only: one transaction, the stamp and the report
        stamp = accuracy_stamp(session=session, series_key=series_key, strategy=strategy)
        key = (series_key, strategy, since, steps, stamp)

        def compute() -> bytes:
            report = accuracy(
                session=session, series_key=series_key, strategy=strategy, since=since, steps=steps
            )
            return AccuracyPublic.model_validate(report).model_dump_json().encode()

        if stamp is None:  # unknown series: accuracy() raises the 404's message
            return key, compute()
        return key, reports.get_or_compute(key, compute)


@router.get(
    "/{series_key}/forecast-log",
    responses={404: {"model": ErrorDetail, "description": "unknown series"}},
)
def read_past_forecasts(
    series_key: Annotated[str, Path(max_length=MAX_KEY)],
    session: SessionDep,
    strategy: Strategy = Strategy.recursive,
    origins: Annotated[int, Query(ge=1, le=500, description="the most recent origins")] = 30,
) -> PastForecasts:
    """The forecasts served at the last `origins` origins, each beside what happened."""
    series = series_db.get_series(session=session, key=series_key)
    frame = past_forecasts(
        session=session, series_id=series.id, strategy=strategy.value, origins=origins
    )
    data = [
        {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
        for r in frame.to_dict("records")
    ]
    return PastForecasts.model_validate(
        {"series": series.key, "strategy": strategy.value, "data": data, "count": len(data)}
    )
