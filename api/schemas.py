"""Request and response models of the HTTP API (family naming: XCreate, XPublic, XList(data, count))."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

MAX_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL

# A database id in a path: a larger number cannot exist, and the database would reject it.
DbId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _id_pattern(top: int) -> str:
    """A regular expression matching exactly the decimal numbers 1..top (no leading zeros)."""
    digits = str(top)
    parts = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for i, d in enumerate(digits):
        low = "1" if i == 0 else "0"
        if int(d) > int(low):
            rest = len(digits) - i - 1
            below = f"[{low}-{int(d) - 1}]"
            parts.append(digits[:i] + below + (f"[0-9]{{{rest}}}" if rest else ""))
    parts.append(digits)
    return "|".join(parts)


MODEL_REF_PATTERN = f"^(champion|{_id_pattern(MAX_ID)})$"
_MODEL_REF = re.compile(MODEL_REF_PATTERN)


def _model_ref(value: str) -> str:
    if _MODEL_REF.match(value):
        return value
    raise ValueError(
        f"model must be 'champion' or a model version id (1..{MAX_ID}; GET /api/v1/models)"
    )


ModelRef = Annotated[
    str,
    AfterValidator(_model_ref),  # the pattern, with a message that says what is valid
    Query(
        description=f"'champion' or a model version id, 1..{MAX_ID} (GET /api/v1/models)",
        json_schema_extra={"pattern": MODEL_REF_PATTERN},
    ),
]

KEY_PATTERN = r"^[A-Za-z0-9._^=-]+$"
SeriesKey = Annotated[
    str,
    Path(
        min_length=1,
        max_length=100,
        pattern=KEY_PATTERN,
        description="series key: 1-100 letters, digits, '-', '_', '.', '^' or '='",
    ),
]


# Timestamps a query may name: the range pandas (and so every stored series) can represent.
TS_MIN = datetime(1677, 9, 22)
TS_MAX = datetime(2262, 4, 11)
TS_RANGE = f"{TS_MIN:%Y-%m-%d} .. {TS_MAX:%Y-%m-%d} (UTC)"


def naive_utc(value: datetime) -> datetime:
    """An offset is honoured, then dropped (the database stores naive UTC); ValueError outside
    TS_MIN .. TS_MAX, including a date an offset pushes past year 1 or 9999."""
    try:
        utc = value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        utc = None
    if utc is None or not TS_MIN <= utc <= TS_MAX:
        raise ValueError(f"{value.isoformat()} is outside the valid range {TS_RANGE}")
    return utc


QueryTimestamp = Annotated[datetime, AfterValidator(naive_utc)]


def as_utc(value: datetime) -> datetime:
    """Stored timestamps are naive UTC: answered with their offset (RFC 3339 `...Z`)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Every timestamp a response carries: `format: date-time` promises an offset.
Timestamp = Annotated[datetime, AfterValidator(as_utc)]


class Strategy(StrEnum):
    recursive = "recursive"
    direct = "direct"


class Message(BaseModel):
    message: str


class ErrorDetail(BaseModel):
    """Every error: what was wrong and what is valid."""

    detail: str


# --- series ----------------------------------------------------------------------------


class SeriesPublic(BaseModel):
    key: str
    source: str
    params: dict[str, Any] = Field(
        description="source parameters; on open reads a file's location is shown as its name"
    )
    frequency: str
    timezone: str
    variables: list[str]
    first: Timestamp | None = Field(description="first stored timestamp (UTC)")
    last: Timestamp | None = Field(description="last stored timestamp: the data end")
    timestamps: int = Field(description="distinct stored timestamps (the series' length)")
    values: int = Field(
        description="stored (variable, timestamp) cells: at most timestamps x variables "
        "(a variable the source did not report at a timestamp has no cell)"
    )


class SeriesList(BaseModel):
    data: list[SeriesPublic]
    count: int


_KEY = Field(
    min_length=1,
    max_length=100,
    pattern=KEY_PATTERN,
    description="series key: 1-100 letters, digits, '-', '_', '.', '^' or '='",
    examples=["AAPL"],
)


class YahooSeriesCreate(BaseModel):
    """A stock ticker from Yahoo Finance (business-day calendar)."""

    model_config = ConfigDict(extra="forbid")
    key: Annotated[str, _KEY]
    source: Literal["yahoo"]
    ticker: str = Field(
        min_length=1, max_length=20, pattern=r"^[A-Za-z0-9.^=-]+$", examples=["AAPL", "^GSPC"]
    )


class MeteostatSeriesCreate(BaseModel):
    """Daily weather from Meteostat: a station id, or a point (lat, lon)."""

    # the schema says what _station_or_point enforces: one of the two, not both
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["station"],
                    "not": {"anyOf": [{"required": ["lat"]}, {"required": ["lon"]}]},
                },
                {"required": ["lat", "lon"], "not": {"required": ["station"]}},
            ]
        },
    )
    key: Annotated[str, _KEY]
    source: Literal["meteostat"]
    # Absent, not null: the schema lists no null (a default is never validated, null is refused)
    station: str = Field(  # type: ignore[assignment]
        default=None, min_length=1, max_length=16, pattern=r"^[A-Za-z0-9]+$", examples=["72509"]
    )
    lat: float = Field(default=None, ge=-90, le=90)  # type: ignore[assignment]
    lon: float = Field(default=None, ge=-180, le=180)  # type: ignore[assignment]

    @model_validator(mode="after")
    def _station_or_point(self) -> MeteostatSeriesCreate:
        point = (self.lat is not None, self.lon is not None)
        if self.station is not None and any(point):
            raise ValueError("give either station or lat and lon, not both")
        if self.station is None and not all(point):
            raise ValueError("a meteostat series needs station (e.g. 72509) or both lat and lon")
        return self


class CsvSeriesCreate(BaseModel):
    """One of the bundled samples (the embedded default); files on the server are CLI-only."""

    model_config = ConfigDict(extra="forbid")
    key: Annotated[str, _KEY]
    source: Literal["csv"]
    sample: str = Field(
        description="bundled sample: AAPL, IBM or seattle-weather",
        examples=["IBM"],
        json_schema_extra={"enum": ["AAPL", "IBM", "seattle-weather"]},
    )


SeriesCreate = Annotated[
    YahooSeriesCreate | MeteostatSeriesCreate | CsvSeriesCreate,
    Field(discriminator="source"),
]


class ObservationPublic(BaseModel):
    ts: Timestamp
    variable: str
    value: float | None = Field(description="null: a gap the source reported")


class ObservationsPage(BaseModel):
    series: str
    data: list[ObservationPublic]
    count: int | None = Field(
        description="rows in the whole range, all pages; given when no cursor is (null on "
        "cursor pages: the first page said it)"
    )
    limit: int
    offset: int
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next page (the last row's ts,variable); null at the end"
    )
    next_offset: int | None = Field(
        description="offset of the next page (offset paging only, up to its bound); null at the end"
    )


# --- models ----------------------------------------------------------------------------


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


# --- forecasts -------------------------------------------------------------------------


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


# --- runs ------------------------------------------------------------------------------


class RunCreate(BaseModel):
    # the schema says what the route enforces: quick is for a retrain only
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"properties": {"kind": {"const": "retrain"}}},
                {"properties": {"kind": {"const": "ingest"}, "quick": {"const": False}}},
            ]
        },
    )
    kind: Literal["ingest", "retrain"]
    series: list[str] = Field(default_factory=list, description="series keys; empty: every series")
    quick: bool = Field(
        default=False, description="retrain only: the quick candidate settings (few epochs)"
    )


class RunPublic(BaseModel):
    id: int
    kind: str
    status: str = Field(description="pending | running | completed | failed | cancelled")
    parameters: dict[str, Any]
    flow_run_id: str | None
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    duration_s: float | None
    heartbeat_at: Timestamp | None = Field(
        description="the lease: renewed every few seconds while the run's process is alive"
    )
    cancel_requested_at: Timestamp | None
    error: str | None
    result: dict[str, Any]
    versions: list[int] = Field(description="model versions the run produced")
    trigger: str | None = Field(
        default=None, description="who started it: api | cli | schedule | policy | replay"
    )
    reason: str | None = Field(
        default=None, description="why: the live evidence, for a run the retrain policy started"
    )


class RunList(BaseModel):
    data: list[RunPublic]
    count: int


# --- health ----------------------------------------------------------------------------


class HealthPublic(BaseModel):
    status: Literal["ok", "unavailable"]
    database: bool
    migrations_current: bool
    schema_revision: str | None
    head_revision: str | None
    models_loaded: int
    detail: str | None = None
