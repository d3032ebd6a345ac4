"""Response models of the live-accuracy routes (api/routers/accuracy.py)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class LiveFigures(BaseModel):
    """Scored served forecasts: MASE is the MAE over the naive forecast's MAE on the same
    points (the naive forecast issued at the same origin); coverage of the served intervals."""

    n: int
    mae: float | None
    rmse: float | None
    mase: float | None
    coverage: float | None
    level: float | None
    naive_mae: float | None
    naive_rmse: float | None


class BacktestFigures(BaseModel):
    """The version's backtest in the same terms (MASE: the model's over the naive one's)."""

    mae: float | None
    rmse: float | None
    mase: float | None
    coverage: float | None
    naive_mae: float | None
    naive_rmse: float | None


class AccuracyCell(BaseModel):
    variable: str
    step: int  # 0: the steps pooled
    live: LiveFigures
    backtest: BacktestFigures | None


class VersionAccuracy(BaseModel):
    version_id: int
    architecture: str
    status: str
    baseline: bool
    origins: int  # origins with scored points
    first_origin: datetime | None
    last_origin: datetime | None
    last_scored_at: datetime | None
    backtest_split: str
    figures: list[AccuracyCell]


class AccuracyPublic(BaseModel):
    series: str
    strategy: str
    since: datetime | None
    steps: int | None
    champion_id: int | None
    versions: list[VersionAccuracy]  # the champion first
    count: int


class PastForecastPoint(BaseModel):
    version_id: int
    origin: datetime
    step: int
    ts: datetime
    variable: str
    value: float
    lower: float | None
    upper: float | None
    naive: float | None
    actual: float | None  # None: not observed (yet), or a gap


class PastForecasts(BaseModel):
    series: str
    strategy: str
    data: list[PastForecastPoint]
    count: int
