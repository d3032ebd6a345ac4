"""Series: list, one, its observations (paginated), register a new ticker or weather station."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import ApiKey, SessionDep
from api.schemas import (
    CsvSeriesCreate,
    MeteostatSeriesCreate,
    ObservationPublic,
    ObservationsPage,
    SeriesCreate,
    SeriesList,
    SeriesPublic,
    YahooSeriesCreate,
)
from forecaster.db import repo
from forecaster.errors import InvalidRequest

router = APIRouter(prefix="/series", tags=["series"])

MAX_PAGE = 10_000  # rows per page of observations
MAX_OFFSET = 10**12  # past any stored row; larger numbers overflow the databases' integers


def _naive_utc(ts: datetime | None) -> datetime | None:
    """The database stores naive UTC; an offset in the query is honoured, then dropped."""
    if ts is None or ts.tzinfo is None:
        return ts
    try:
        return ts.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # 0001-01-01T00:00+05:00 is before year 1 in UTC
        raise InvalidRequest(
            f"timestamp {ts.isoformat()} is out of range in UTC: use one between "
            "0001-01-02 and 9999-12-30"
        ) from None


def _registration(body: SeriesCreate) -> dict[str, Any]:
    """Source parameters and calendar of a new series (what `forecaster ingest` registers)."""
    if isinstance(body, YahooSeriesCreate):
        ticker = body.ticker.strip().upper()
        return {
            "source": "yahoo",
            "params": {"ticker": ticker},
            "frequency": "B",
            "timezone": "America/New_York",
        }
    if isinstance(body, MeteostatSeriesCreate):
        params: dict[str, Any] = (
            {"station": body.station}
            if body.station is not None
            else {"lat": body.lat, "lon": body.lon}
        )
        return {"source": "meteostat", "params": params, "frequency": "D"}
    assert isinstance(body, CsvSeriesCreate)
    from forecaster.sources.samples import get_sample

    sample = get_sample(body.sample)  # InvalidData (422) lists the bundled samples
    return {
        "source": "csv",
        "params": {"sample": sample.filename},
        "frequency": sample.frequency,
    }


@router.get("")
def list_series(session: SessionDep) -> SeriesList:
    """Every registered series with its variables and stored range."""
    rows = [SeriesPublic(**r) for r in repo.series_summaries(session=session)]
    return SeriesList(data=rows, count=len(rows))


@router.get("/{series_key}", responses={404: {"description": "unknown series"}})
def read_series(series_key: str, session: SessionDep) -> SeriesPublic:
    return SeriesPublic(**repo.series_summary(session=session, key=series_key))


@router.get("/{series_key}/observations")
def read_observations(
    series_key: str,
    session: SessionDep,
    start: Annotated[datetime | None, Query(description="first timestamp, e.g. 2012-01-01")] = None,
    end: Annotated[datetime | None, Query(description="last timestamp (inclusive)")] = None,
    variables: Annotated[
        list[str] | None,
        Query(description="variables to return: repeat the parameter or separate with commas"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1000,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ObservationsPage:
    """Long rows (ts, variable, value) ordered by time then variable, one page at a time."""
    series = repo.get_series(session=session, key=series_key)
    wanted = [v.strip() for item in variables or [] for v in item.split(",") if v.strip()]
    repo.check_variables(session=session, series=series, variables=wanted)
    rows, total = repo.read_observations_page(
        session=session,
        series_id=series.id,
        start=_naive_utc(start),
        end=_naive_utc(end),
        variables=wanted or None,
        limit=limit,
        offset=offset,
    )
    return ObservationsPage(
        series=series.key,
        data=[ObservationPublic(ts=t, variable=v, value=x) for t, v, x in rows],
        count=total,
        limit=limit,
        offset=offset,
        next_offset=offset + limit if offset + limit < total else None,
    )


@router.post(
    "",
    status_code=201,
    dependencies=[ApiKey],
    responses={409: {"description": "the key is taken"}},
)
def create_series(body: SeriesCreate, session: SessionDep) -> SeriesPublic:
    """Register a ticker or a weather station. Nothing is fetched: POST /runs {"kind": "ingest"} does."""
    repo.create_series(session=session, key=body.key, **_registration(body))
    return SeriesPublic(**repo.series_summary(session=session, key=body.key))
