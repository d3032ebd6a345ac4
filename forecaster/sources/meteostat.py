"""Daily weather observations from Meteostat (meteostat 2.x), for a station or a point; frequency "D".

params:
- a station: {"station": "72530"}, optionally with "latitude", "longitude", "elevation" and
  "timezone" (passed as an `ms.Station`, so no stations database download is needed);
- a point: {"lat": 41.98, "lon": -87.9} (optionally "elevation"): the nearest stations within
  50 km are fetched and interpolated to the point (needs Meteostat's stations database).

Columns are the library's daily parameters (tmin, tmax, prcp, snwd, wspd, wpgt, pres, tsun,
cldc, rhum), as float64, in its units (degC, mm, snow depth `snwd` in cm, km/h, hPa, minutes,
oktas, %). One is renamed: the mean temperature `temp` becomes `tavg`, the name the bundled
weather CSVs use (Meteostat's 1.x schema). Those CSVs' `snow` is snow depth in mm, i.e. 10 x
`snwd`; it is not renamed, because 2.x uses `snow` for snowfall, a different quantity.

Rows are the dates Meteostat has; the library itself drops a date whose values are all
missing. With no `start`, the last DEFAULT_HISTORY_YEARS calendar years are fetched (the
daily data comes as one file per station and year, so "all history" is not a cheap query).

Meteostat does not raise when offline: it logs the failure and returns nothing. Those log
records are watched during a fetch so that a network failure is SourceUnavailable (retry),
while a station with no data is a plain SourceError.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import meteostat as ms
import pandas as pd
import requests

from forecaster.errors import InvalidData, SourceError
from forecaster.sources.base import SourceUnavailable, normalize_frame

logger = logging.getLogger(__name__)

FREQ = "D"
RENAME = {"temp": "tavg"}  # to the bundled CSVs' name for the daily mean temperature
DEFAULT_HISTORY_YEARS = 10
NEARBY_RADIUS_M = 50_000
NEARBY_LIMIT = 5  # stations interpolated for a point (meteostat refuses more than 10)
CHUNK_YEARS = 20  # meteostat refuses daily requests spanning more than 30 years


class MeteostatSource:
    """The Source for Meteostat daily data: params {"station": ...} or {"lat": ..., "lon": ...}."""

    name = "meteostat"
    freq = FREQ

    def fetch(self, params: dict[str, Any], start: date | None, end: date | None) -> pd.DataFrame:
        end = end or datetime.now(UTC).date()
        start = start or date(end.year - DEFAULT_HISTORY_YEARS + 1, 1, 1)
        if start > end:
            raise InvalidData(f"start {start} is after end {end}: give start <= end")
        if params.get("station"):
            return fetch_station(_station(params), start, end)
        if params.get("lat") is not None and params.get("lon") is not None:
            return fetch_point(_point(params), start, end)
        raise InvalidData(
            "meteostat source needs params {'station': ID} (e.g. {'station': '72530'}) or "
            f"{{'lat': LATITUDE, 'lon': LONGITUDE}}; got {params!r}"
        )


def fetch_station(station: ms.Station, start: date, end: date) -> pd.DataFrame:
    """Daily observations of one station, `start` to `end` inclusive."""
    where = f"station {station.id!r}"
    frame = _fetch(lambda s, e: ms.daily(station, s, e).fetch(), where, start, end)
    if frame is None:
        raise SourceError(
            f"meteostat returned no data for station {station.id!r} between {start} and "
            f"{end}: check the station id (a Meteostat id such as '72530', see "
            "meteostat.net) or the date range"
        )
    return frame


def fetch_point(point: ms.Point, start: date, end: date) -> pd.DataFrame:
    """Daily observations interpolated to a point from the nearest stations."""
    where = f"point ({point.latitude}, {point.longitude})"
    nearby = _nearby(point, where)
    if nearby.empty:
        raise SourceError(
            f"meteostat has no station within {NEARBY_RADIUS_M // 1000} km of {where}: "
            "check the coordinates (lat -90..90, lon -180..180) or give a station id"
        )
    stations: list[str | ms.Station | ms.Point] = [
        ms.Station(
            id=str(station_id),
            latitude=row["latitude"],
            longitude=row["longitude"],
            elevation=None if pd.isna(row["elevation"]) else int(row["elevation"]),
            timezone=row["timezone"],
        )
        for station_id, row in nearby.iterrows()
    ]

    def one(s: date, e: date) -> pd.DataFrame | None:
        frame: pd.DataFrame | None = ms.interpolate(ms.daily(stations, s, e), point).fetch()
        return frame

    frame = _fetch(one, where, start, end)
    if frame is None:
        ids = ", ".join(str(i) for i in nearby.index)
        raise SourceError(
            f"meteostat returned no data for {where} (nearest stations {ids}) between "
            f"{start} and {end}: try a station id or another date range"
        )
    return frame


def _fetch(download: Any, where: str, start: date, end: date) -> pd.DataFrame | None:
    """Run `download(start, end)` in chunks meteostat accepts; None when nothing came back."""
    frames = []
    with _network_failures() as failures:
        for chunk_start, chunk_end in _chunks(start, end):
            frame = download(chunk_start, chunk_end)
            if frame is not None and not frame.empty:
                frames.append(frame)
    if failures:
        raise SourceUnavailable(
            f"meteostat could not be reached for {where} between {start} and {end}: {failures[0]}"
        )
    if not frames:
        return None
    frame = pd.concat(frames)
    frame = frame.drop(columns=[c for c in frame.columns if str(c).endswith("_source")])
    if isinstance(frame.index, pd.MultiIndex):  # a station level, when meteostat keeps it
        frame.index = frame.index.get_level_values("time")
    return normalize_frame(frame.rename(columns=RENAME), daily=True)


def _chunks(start: date, end: date) -> Iterator[tuple[date, date]]:
    year = start.year
    while year <= end.year:
        last = min(year + CHUNK_YEARS - 1, end.year)
        yield max(start, date(year, 1, 1)), min(end, date(last, 12, 31))
        year = last + 1


def _station(params: dict[str, Any]) -> ms.Station:
    def number(key: str) -> float | None:
        value = params.get(key)
        if value is None:
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise InvalidData(f"meteostat param {key!r}={value!r} is not a number") from None

    elevation = number("elevation")
    return ms.Station(
        id=str(params["station"]).strip(),
        latitude=number("latitude"),
        longitude=number("longitude"),
        elevation=None if elevation is None else int(elevation),
        timezone=params.get("timezone"),
    )


def _point(params: dict[str, Any]) -> ms.Point:
    try:
        lat, lon = float(params["lat"]), float(params["lon"])
        elevation = params.get("elevation")
        return ms.Point(lat, lon, None if elevation is None else int(elevation))
    except (TypeError, ValueError) as exc:
        raise InvalidData(
            f"meteostat point lat={params['lat']!r}, lon={params['lon']!r} is not valid "
            f"({exc}): latitude -90..90 and longitude -180..180 in degrees"
        ) from None


def _nearby(point: ms.Point, where: str) -> pd.DataFrame:
    try:
        nearby: pd.DataFrame = ms.stations.nearby(point, radius=NEARBY_RADIUS_M, limit=NEARBY_LIMIT)
    except requests.RequestException as exc:
        raise SourceUnavailable(
            f"meteostat's stations database could not be downloaded for {where}: {exc}"
        ) from exc
    except Exception as exc:  # meteostat raises a bare Exception when the download fails
        if "database" not in str(exc):
            raise
        raise SourceUnavailable(
            f"meteostat's stations database could not be downloaded for {where}: {exc}"
        ) from exc
    return nearby


def _is_not_found(exc: BaseException) -> bool:
    """A missing data file is "no data", not a network failure."""
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code == 404
    if isinstance(exc, urllib.error.URLError):
        return isinstance(exc.reason, FileNotFoundError)
    return isinstance(exc, FileNotFoundError)


class _FailureRecorder(logging.Handler):
    """Collects the network errors meteostat logs (and swallows) in this thread."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.thread = threading.get_ident()
        self.failures: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        if record.thread != self.thread or exc is None:
            return
        if isinstance(exc, OSError) and not _is_not_found(exc):
            self.failures.append(exc)


@contextmanager
def _network_failures() -> Iterator[list[BaseException]]:
    recorder = _FailureRecorder()
    library_logger = logging.getLogger("meteostat")
    library_logger.addHandler(recorder)
    try:
        yield recorder.failures
    finally:
        library_logger.removeHandler(recorder)
