"""Model versions and their backtest figures: the /models routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.schemas.common import Timestamp


class StepMetrics(BaseModel):
    """Error at one step for one variable: the model beside its naive baselines.

    Keys are metric names (mae, rmse, mape, smape, mase, and coverage of the intervals at the
    version's own level; a forecast's points carry it at the requested level).
    """

    variable: str
    step: int = Field(description="1..H; 0 = all steps pooled")
    model: dict[str, float | None]
    naive: dict[str, float | None]
    seasonal_naive: dict[str, float | None]


class GlobalModelRef(BaseModel):
    """The global model a version belongs to: one network trained across a group of series."""

    id: int
    group: str = Field(description="the retrain config's group name")
    members: list[str] = Field(description="the series it was trained on (each has a version)")
    embedding_dim: int


class ModelPublic(BaseModel):
    id: int
    series: str
    architecture: str
    label: str = Field(
        description="the variant in words, telling versions of one architecture apart",
        examples=["seq2seq-attention (segment 5)", "gru", "naive"],
    )
    strategy: str
    status: str = Field(description="candidate | champion | archived | failed")
    lookback: int | None
    horizon: int | None = Field(
        description="H: the steps a direct model emits; a recursive model rolls any horizon"
    )
    targets: list[str]
    variables: list[str] = Field(description="inputs the model reads")
    config: dict[str, Any] = Field(description="every hyperparameter (ModelSpec)")
    train_start: Timestamp | None
    train_end: Timestamp | None
    data_range: dict[str, Any] = Field(description="start, train_end, valid_end, end")
    primary_metric: str | None
    primary_score: float | None = Field(description="backtest score that decided promotion")
    has_attention: bool = Field(description="forecasts carry attention weights")
    fit: dict[str, Any] | None = Field(description="training summary: epochs, losses, time")
    error: str | None = Field(description="why training failed (status failed)")
    run_id: int | None
    created_at: Timestamp
    promoted_at: Timestamp | None
    global_model: GlobalModelRef | None = Field(
        default=None,
        description="set on a member of a global model (null: trained on this series alone)",
    )


class ModelDetail(ModelPublic):
    metrics: dict[str, list[StepMetrics]] = Field(
        description="per split (valid, test, backtest): every step, the model beside the baselines"
    )


class ModelList(BaseModel):
    data: list[ModelPublic]
    count: int
