"""A served forecast: its points, intervals, figures and attention."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.common import Timestamp
from api.schemas.models import ModelPublic, StepMetrics


class ForecastPointPublic(BaseModel):
    step: int
    ts: Timestamp = Field(description="on the series' own calendar (business days for stocks)")
    variable: str
    value: float
    lower: float | None = Field(description="null: the level cannot be backed by the scores")
    upper: float | None
    coverage: float | None = Field(
        default=None,
        description="share of the most recent origins (coverage_origins) whose actual at this "
        "step fell inside the interval this version served them at the requested level",
    )
    width: float | None = Field(default=None, description="upper - lower")


class AttentionPublic(BaseModel):
    """Attention of each forecast step (or output segment) over the lookback, at the resolution
    the model attends: steps for the step-wise decoder, segments for a segment model. The
    dashboard draws a heatmap whose colour scale is anchored at `uniform`."""

    resolution: Literal["step", "segment"] = Field(description="what a row and a column are")
    segment_len: int = Field(description="steps per row and per column (1 at step resolution)")
    weights: list[list[float]] = Field(
        description="(rows, columns): row r's weights over the lookback columns; each sums to 1"
    )
    uniform: float = Field(description="the weight of attending evenly, 1 / columns")
    row_entropy: list[float] = Field(
        description="each row's entropy relative to uniform weights: 1 attends evenly, 0 to one column"
    )
    row_steps: list[list[int]] = Field(description="first and last forecast step of each row")
    lookback_ts: list[Timestamp] = Field(description="timestamps of the lookback rows")
    column_start_ts: list[Timestamp] = Field(description="first lookback timestamp of each column")
    column_end_ts: list[Timestamp] = Field(description="last lookback timestamp of each column")


class ForecastPublic(BaseModel):
    series: str
    model: ModelPublic
    strategy: str
    horizon: int
    level: float
    max_horizon: int | None = Field(
        default=None,
        description="the longest horizon this version serves (H for direct; for recursive, "
        "recorded from its backtest); a longer one is refused with 422",
    )
    coverage_origins: int = Field(
        default=0, description="recent origins each point's coverage was measured over"
    )
    issued_at: Timestamp = Field(description="data end the forecast was issued from")
    points: list[ForecastPointPublic]
    metrics_split: str = Field(description="where the figures come from: backtest or test")
    metrics_steps: int = Field(
        default=0, description="steps the figures cover (1..n): the requested horizon or fewer"
    )
    metrics: list[StepMetrics]
    skill: str | None = Field(
        default=None,
        description="one plain sentence on whether the served model beats the naive forecast "
        "on the requested steps",
    )
    has_skill: bool | None = Field(
        default=None,
        description="false when a baseline is served or the model does not beat naive; "
        "null when undefined",
    )
    baseline_served: bool = Field(
        default=False,
        description="the champion is a baseline (naive or seasonal naive): no model beat it",
    )
    attention: AttentionPublic | None
