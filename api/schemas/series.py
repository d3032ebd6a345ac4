"""Series and their observations: the /series routes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas.common import KEY_PATTERN, Timestamp


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


class SeriesUpload(BaseModel):
    """What an uploaded CSV did: the series as stored now and the ingest run that recorded it."""

    series: SeriesPublic
    run_id: int = Field(description="the ingest run recording this upload: GET /runs/{run_id}")
    values: int = Field(description="(variable, timestamp) cells upserted from the file")
    dropped: list[str] = Field(
        description="text-only columns left out (only numeric columns are variables)"
    )
