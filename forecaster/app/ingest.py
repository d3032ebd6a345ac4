"""Registering a data source as a series (the CLI's `ingest`, the API's POST /series), and the
rule that a first ingest which stored nothing leaves no series behind."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from forecaster.db import observations as observations_db
from forecaster.db import series as series_db
from forecaster.db.models import Series

T = TypeVar("T")


@dataclass(frozen=True)
class Registration:
    """What a series is fetched from, and its calendar."""

    key: str
    source: str  # "yahoo", "meteostat", "csv"
    params: dict[str, Any] = field(default_factory=dict)
    frequency: str = "D"
    timezone: str = "UTC"


def yahoo(key: str, ticker: str) -> Registration:
    """Daily prices of a ticker: trading days ("B"), New York time."""
    ticker = ticker.strip().upper()
    return Registration(key, "yahoo", {"ticker": ticker}, "B", "America/New_York")


def meteostat(
    key: str, *, station: str | None = None, lat: float | None = None, lon: float | None = None
) -> Registration:
    """Daily weather of a Meteostat station, or of the point (lat, lon)."""
    params: dict[str, Any] = (
        {"station": station} if station is not None else {"lat": lat, "lon": lon}
    )
    return Registration(key, "meteostat", params, "D")


def sample(name: str, *, key: str | None = None) -> Registration:
    """A bundled sample, under its own key unless `key` is given (InvalidData lists them)."""
    from forecaster.sources.samples import get_sample

    found = get_sample(name)
    return Registration(key or found.key, "csv", {"sample": found.filename}, found.frequency)


def samples() -> list[Registration]:
    """Every bundled sample under its own key."""
    from forecaster.sources.samples import SAMPLES

    return [Registration(s.key, "csv", {"sample": s.filename}, s.frequency) for s in SAMPLES]


def csv_file(
    key: str, path: str, *, time_column: str | None = None, freq: str | None = None
) -> Registration:
    """A CSV file on this machine. It is read once here, so a file that cannot be used fails
    before anything is registered; the frequency defaults to the one the file implies."""
    from forecaster.sources.csv import read_csv

    path = os.path.abspath(path)
    _, inferred = read_csv(path, time_column=time_column, freq=freq)
    params: dict[str, Any] = {"path": path}
    if time_column:
        params["time_column"] = time_column
    return Registration(key, "csv", params, freq or inferred)


def register(
    *, session: Session, registrations: Iterable[Registration], exclusive: bool = False
) -> list[Series]:
    """Register each series. A key already registered has its source updated, or with
    `exclusive` is refused (Conflict)."""
    add = series_db.create_series if exclusive else series_db.register_series
    return [add(session=session, **asdict(r)) for r in registrations]


def unregister_unfilled(*, session: Session, keys: Iterable[str]) -> list[str]:
    """Remove those of `keys` that hold no observation; returns the keys removed.

    The rule for a first ingest: a series registered for it whose fetch stored nothing is
    removed again, so a failed ingest leaves the database as it found it.
    """
    removed = []
    for key in dict.fromkeys(keys):
        series = series_db.get_series(session=session, key=key)
        if observations_db.latest_timestamp(session=session, series_id=series.id) is None:
            session.delete(series)
            removed.append(key)
    return removed


def ingest_sources(
    sessions: sessionmaker[Session],
    registrations: list[Registration],
    fetch: Callable[[list[str]], T],
) -> tuple[T, list[str]]:
    """Register the sources, run `fetch` on their keys (the caller's ingest), then unregister
    the series this call registered whose first fetch stored nothing.

    Returns what `fetch` returned and the keys unregistered.
    """
    with sessions.begin() as session:
        existing = {s.key for s in series_db.list_series(session=session)}
        keys = [s.key for s in register(session=session, registrations=registrations)]
    result = fetch(keys)
    with sessions.begin() as session:
        new = [k for k in keys if k not in existing]
        return result, unregister_unfilled(session=session, keys=new)
