"""Live accuracy of a series' served forecasts: scored against what happened, beside the naive
forecast of the same origin and the version's backtest; and the past forecasts themselves."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import SessionDep
from api.schemas import ErrorDetail, QueryTimestamp, Strategy
from api.schemas_accuracy import AccuracyPublic, PastForecasts
from forecaster.db import repo
from forecaster.db.forecast_log import past_forecasts
from forecaster.monitoring import accuracy

router = APIRouter(prefix="/series", tags=["accuracy"])

MAX_KEY = 100


@router.get(
    "/{series_key}/accuracy",
    responses={404: {"model": ErrorDetail, "description": "unknown series"}},
)
def read_accuracy(
    series_key: Annotated[str, Path(max_length=MAX_KEY)],
    session: SessionDep,
    since: Annotated[
        QueryTimestamp | None, Query(description="only forecasts issued at or after this time")
    ] = None,
    strategy: Strategy = Strategy.recursive,
    steps: Annotated[
        int | None, Query(ge=1, le=1000, description="only steps 1..steps (pooled as step 0)")
    ] = None,
) -> AccuracyPublic:
    """Live MAE, RMSE, MASE against the naive forecast and interval coverage of every version
    that served this series and strategy, per variable and step, beside its backtest figures."""
    report = accuracy(
        session=session, series_key=series_key, strategy=strategy.value, since=since, steps=steps
    )
    return AccuracyPublic.model_validate(report)


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
    series = repo.get_series(session=session, key=series_key)
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
