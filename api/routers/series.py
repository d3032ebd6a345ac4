"""Series: list, one, its observations (paginated), register a new ticker or weather station,
upload a CSV."""

from __future__ import annotations

import tempfile
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from api import redact
from api.cache import RevisionCache
from api.deps import ApiKey, FullDetail, SessionDep, SettingsDep
from api.schemas.common import QueryTimestamp, SeriesKey, naive_utc
from api.schemas.series import (
    CsvSeriesCreate,
    MeteostatSeriesCreate,
    ObservationPublic,
    ObservationsPage,
    SeriesCreate,
    SeriesList,
    SeriesPublic,
    SeriesUpload,
    YahooSeriesCreate,
)
from forecaster.app import ingest
from forecaster.app.runs import LeasePolicy
from forecaster.config import Settings
from forecaster.db import observations as observations_db
from forecaster.db import series as series_db
from forecaster.db.models import Series
from forecaster.errors import TS_RANGE, InvalidRequest

router = APIRouter(prefix="/series", tags=["series"])

MAX_PAGE = 10_000  # rows per page of observations
# Offset paging reads offset + limit rows per variable: bounded; cursor paging has no bound.
MAX_OFFSET = 50_000


def _registration(body: SeriesCreate) -> ingest.Registration:
    """The source and calendar of a new series (what `forecaster ingest` registers)."""
    if isinstance(body, YahooSeriesCreate):
        return ingest.yahoo(body.key, body.ticker)
    if isinstance(body, MeteostatSeriesCreate):
        return ingest.meteostat(body.key, station=body.station, lat=body.lat, lon=body.lon)
    assert isinstance(body, CsvSeriesCreate)
    return ingest.sample(body.sample, key=body.key)  # InvalidData (422) lists the samples


def _series_public(summary: dict[str, Any], *, full: bool) -> SeriesPublic:
    if not full:  # a CSV's path on the server: its file name only
        summary = {**summary, "params": redact.source_params(summary["params"])}
    return SeriesPublic(**summary)


@router.get("")
def list_series(request: Request, session: SessionDep, full: FullDetail) -> SeriesList:
    """Every registered series with its variables and stored range."""
    facts: RevisionCache = request.app.state.series_facts
    rows = [
        _series_public(  # a scan of the series' rows: once per data revision, not per read
            facts.get_or_compute(
                (s.id, s.updated_at, "summary"),
                partial(series_db.summarize, session=session, series=s),
            ),
            full=full,
        )
        for s in series_db.list_series(session=session)
    ]
    return SeriesList(data=rows, count=len(rows))


@router.get("/{series_key}", responses={404: {"description": "unknown series"}})
def read_series(series_key: SeriesKey, session: SessionDep, full: FullDetail) -> SeriesPublic:
    return _series_public(series_db.series_summary(session=session, key=series_key), full=full)


@router.get("/{series_key}/observations")
def read_observations(
    series_key: SeriesKey,
    request: Request,
    session: SessionDep,
    start: Annotated[
        QueryTimestamp | None, Query(description="first timestamp, e.g. 2012-01-01")
    ] = None,
    end: Annotated[QueryTimestamp | None, Query(description="last timestamp (inclusive)")] = None,
    variables: Annotated[
        list[str] | None,
        Query(description="variables to return: repeat the parameter or separate with commas"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1000,
    cursor: Annotated[
        str | None,
        Query(
            max_length=200,
            description="next_cursor of the previous page, or a timestamp: rows after it",
        ),
    ] = None,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="kept for old clients; prefer cursor")
    ] = 0,
) -> ObservationsPage:
    """Long rows (ts, variable, value) ordered by time then variable, one page at a time.

    Page with `cursor` (each page's `next_cursor`): every page costs the same however deep.
    """
    series = series_db.get_series(session=session, key=series_key)
    wanted = [v.strip() for item in variables or [] for v in item.split(",") if v.strip()]
    after = _parse_cursor(cursor)
    if after is not None and offset:
        raise InvalidRequest("give cursor or offset, not both (cursor is the one to prefer)")
    return _page(
        request.app.state.series_facts, session, series, start, end, wanted, limit, after, offset
    )


def _parse_cursor(cursor: str | None) -> tuple[datetime, str | None] | None:
    """'TS,VARIABLE' (a page's next_cursor) or a bare timestamp; InvalidRequest otherwise."""
    if cursor is None:
        return None
    stamp, sep, variable = cursor.partition(",")
    try:
        ts = naive_utc(datetime.fromisoformat(stamp))
    except ValueError as exc:
        raise InvalidRequest(
            f"query parameter 'cursor': {cursor!r} is not a page's next_cursor nor a timestamp "
            f"in {TS_RANGE} ({exc})"
        ) from None
    return ts, (variable if sep else None)


def _page(
    facts: RevisionCache,
    session: Session,
    series: Series,
    start: datetime | None,
    end: datetime | None,
    wanted: list[str],
    limit: int,
    after: tuple[datetime, str | None] | None,
    offset: int,
) -> ObservationsPage:
    revision = (series.id, series.updated_at)  # moves with every ingest that writes rows
    known = facts.get_or_compute(
        (*revision, "variables"),
        partial(series_db.series_variables, session=session, series_id=series.id),
    )
    series_db.check_variables(session=session, series=series, variables=wanted, known=known)
    chosen = wanted or known
    rows, more = observations_db.read_observations_page(
        session=session,
        series_id=series.id,
        variables=chosen,
        start=start,
        end=end,
        after=after,
        limit=limit,
        offset=offset,
    )
    count = None
    if after is None:  # a scan of the range: once per data revision, not once per page
        count = facts.get_or_compute(
            (*revision, "count", start, end, tuple(chosen)),
            partial(
                observations_db.count_in_range,
                session=session,
                series_id=series.id,
                start=start,
                end=end,
                variables=chosen,
            ),
        )
    last = rows[-1] if rows else None
    return ObservationsPage(
        series=series.key,
        data=[ObservationPublic(ts=t, variable=v, value=x) for t, v, x in rows],
        count=count,
        limit=limit,
        offset=offset,
        next_cursor=f"{last[0].isoformat()},{last[1]}" if more and last else None,
        next_offset=offset + limit if more and offset + limit <= MAX_OFFSET else None,
    )


@router.post(
    "",
    status_code=201,
    dependencies=[ApiKey],
    responses={409: {"description": "the key is taken"}},
)
def create_series(body: SeriesCreate, session: SessionDep) -> SeriesPublic:
    """Register a ticker or a weather station. Nothing is fetched: POST /runs {"kind": "ingest"} does."""
    ingest.register(session=session, registrations=[_registration(body)], exclusive=True)
    return SeriesPublic(**series_db.series_summary(session=session, key=body.key))


CSV_BODY = {  # the upload's body in the OpenAPI schema: the file itself, not JSON
    "required": True,
    "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
}


@router.post(
    "/{series_key}/csv",
    status_code=201,
    dependencies=[ApiKey],
    openapi_extra={"requestBody": CSV_BODY},
    responses={
        413: {"description": "the body is over FORECASTER_MAX_UPLOAD_MB"},
        415: {"description": "a multipart form: send the file itself as the body"},
        422: {"description": "the CSV cannot be used: the reason, and what is valid"},
        429: {"description": "too many runs pending or running (in all, or for this series)"},
    },
)
async def upload_csv(
    series_key: SeriesKey,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    time_column: Annotated[
        str | None,
        Query(
            max_length=200,
            description="the time column (default: one named date, time, timestamp, ts or "
            "datetime, else the first)",
        ),
    ] = None,
    freq: Annotated[
        str | None,
        Query(
            max_length=20,
            description="pandas frequency alias: B, D, h, ... (default: inferred from the file)",
        ),
    ] = None,
) -> SeriesUpload:
    """Store a tidy CSV sent as the body (`curl --data-binary @sales.csv -H 'Content-Type:
    text/csv'`) under `series_key`, as `forecaster ingest csv` does: the same checks and
    messages, registered (or its source replaced), upserted and recorded as an ingest run in
    one transaction, so a refused or failed upload stores nothing. Uploading again revises it."""
    limit = int(settings.max_upload_mb * 1_000_000)
    with tempfile.TemporaryDirectory(prefix="forecaster-upload-") as folder:
        path = Path(folder) / "upload.csv"
        await _receive(request, path, limit=limit, limit_mb=settings.max_upload_mb)
        return await run_in_threadpool(
            _store_upload, session, settings, series_key, path, time_column, freq
        )


async def _receive(request: Request, path: Path, *, limit: int, limit_mb: float) -> None:
    """Stream the body to `path`; 413 once it passes `limit` bytes, 415 for a multipart form."""
    if request.headers.get("content-type", "").startswith("multipart/"):
        raise HTTPException(
            415,
            "send the CSV itself as the request body (Content-Type: text/csv), not a "
            "multipart form: curl --data-binary @FILE.csv -H 'Content-Type: text/csv' URL",
        )
    too_big = HTTPException(
        413,
        f"the CSV is over the upload limit of {limit_mb:g} MB (FORECASTER_MAX_UPLOAD_MB on the "
        "server): split the file and upload the parts (each upload adds to the series)",
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_big  # refused before a byte is read
    received = 0
    with path.open("wb") as out:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise too_big
            out.write(chunk)


def _store_upload(
    session: Session,
    settings: Settings,
    key: str,
    path: Path,
    time_column: str | None,
    freq: str | None,
) -> SeriesUpload:
    csv = ingest.read_csv_file(key, str(path), time_column=time_column, freq=freq, uploaded=True)
    result = ingest.ingest_frame(
        session=session,
        csv=csv,
        policy=LeasePolicy.from_settings(settings),
        trigger="api",
        mode="upload",
    )
    return SeriesUpload(
        series=_series_public(series_db.series_summary(session=session, key=key), full=False),
        run_id=result.run_id,
        values=result.rows[key],
        dropped=list(csv.dropped),
    )
