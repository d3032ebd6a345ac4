"""The series aggregate: register, look up, list and summarise series, and write-lock them.

Functions take the session as a keyword and never commit or close it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from forecaster.db.models import SOURCES, Observation, Series, utcnow
from forecaster.errors import InvalidData, InvalidRequest, SeriesExists, UnknownSeries


def register_series(
    *,
    session: Session,
    key: str,
    source: str,
    params: dict[str, Any] | None = None,
    frequency: str = "D",
    timezone: str = "UTC",
) -> Series:
    """Create the series, or update its source parameters if the key exists."""
    if source not in SOURCES:
        raise InvalidData(f"source={source!r} is not one of {', '.join(SOURCES)}")
    if (
        not key
        or len(key) > 100
        or not all((c.isascii() and c.isalnum()) or c in "-_.^=" for c in key)
    ):
        raise InvalidData(
            f"series key {key!r} is invalid: use 1-100 letters, digits, '-', '_', '.', '^' or '='"
        )
    # INSERT ... ON CONFLICT DO NOTHING, then read: two processes registering one key at once
    # (two ingests of the same file) both succeed, one creating it, the other finding it.
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    now = utcnow()
    session.execute(
        insert(Series)
        .values(
            key=key,
            source=source,
            params=params or {},
            frequency=frequency,
            timezone=timezone,
            created_at=now,
            updated_at=now,
            revision=0,
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )
    series = session.scalars(
        select(Series).where(Series.key == key).execution_options(populate_existing=True)
    ).one()
    series.source, series.params = source, params or {}
    series.frequency, series.timezone = frequency, timezone
    series.updated_at = now
    session.flush()
    return series


def get_series(*, session: Session, key: str) -> Series:
    series = session.scalar(select(Series).where(Series.key == key))
    if series is None:
        known = session.scalars(select(Series.key).order_by(Series.key)).all()
        raise UnknownSeries(key=key, known=known)
    return series


def list_series(*, session: Session) -> Sequence[Series]:
    return session.scalars(select(Series).order_by(Series.key)).all()


def series_summaries(*, session: Session) -> list[dict[str, Any]]:
    """Key, source, variables, first/last timestamp of every series; `timestamps` counts its
    distinct timestamps, `values` its stored (variable, timestamp) cells."""
    stats = {
        row.series_id: row
        for row in session.execute(
            select(
                Observation.series_id,
                func.min(Observation.ts).label("first"),
                func.max(Observation.ts).label("last"),
                func.count(func.distinct(Observation.ts)).label("timestamps"),
                func.count().label("values"),
            ).group_by(Observation.series_id)
        )
    }
    variables: dict[int, list[str]] = {}
    for sid, var in session.execute(
        select(Observation.series_id, Observation.variable)
        .distinct()
        .order_by(Observation.variable)
    ):
        variables.setdefault(sid, []).append(var)
    out = []
    for s in list_series(session=session):
        st = stats.get(s.id)
        out.append(
            {
                "key": s.key,
                "source": s.source,
                "params": s.params,
                "frequency": s.frequency,
                "timezone": s.timezone,
                "variables": variables.get(s.id, []),
                "first": st.first if st else None,
                "last": st.last if st else None,
                "timestamps": st.timestamps if st else 0,
                "values": st.values if st else 0,
            }
        )
    return out


def series_summary(*, session: Session, key: str) -> dict[str, Any]:
    """`series_summaries` for one series (UnknownSeries if the key is not registered)."""
    return summarize(session=session, series=get_series(session=session, key=key))


def summarize(*, session: Session, series: Series) -> dict[str, Any]:
    """`series_summaries` for one series row: a scan of its own rows only (the primary key's
    range), so a caller can cache it per series and data revision."""
    first, last, timestamps, values = session.execute(
        select(
            func.min(Observation.ts),
            func.max(Observation.ts),
            func.count(func.distinct(Observation.ts)),
            func.count(),
        ).where(Observation.series_id == series.id)
    ).one()
    return {
        "key": series.key,
        "source": series.source,
        "params": series.params,
        "frequency": series.frequency,
        "timezone": series.timezone,
        "variables": series_variables(session=session, series_id=series.id),
        "first": first,
        "last": last,
        "timestamps": timestamps or 0,
        "values": values or 0,
    }


def series_variables(*, session: Session, series_id: int) -> list[str]:
    """Sorted in Python: SQLite and PostgreSQL collations order '_' differently."""
    return sorted(
        session.scalars(
            select(Observation.variable).where(Observation.series_id == series_id).distinct()
        )
    )


def check_variables(
    *,
    session: Session,
    series: Series,
    variables: Sequence[str],
    known: Sequence[str] | None = None,
) -> None:
    """InvalidRequest naming the valid variables when one asked for is not stored.

    `known`: the series' variables when the caller has them (else they are queried).
    """
    if not variables:
        return
    if known is None:
        known = series_variables(session=session, series_id=series.id)
    unknown = [v for v in variables if v not in known]
    if unknown:
        valid = ", ".join(known) if known else "none yet (ingest it first)"
        raise InvalidRequest(
            f"unknown variable(s) {', '.join(map(repr, unknown))} for series {series.key!r}; "
            f"its variables are: {valid}"
        )


def create_series(
    *,
    session: Session,
    key: str,
    source: str,
    params: dict[str, Any] | None = None,
    frequency: str = "D",
    timezone: str = "UTC",
) -> Series:
    """Register a new series; unlike `register_series`, an existing key is a Conflict."""
    existing = session.scalar(select(Series).where(Series.key == key))
    if existing is not None:
        raise SeriesExists(key=key, source=existing.source, params=existing.params)
    return register_series(
        session=session,
        key=key,
        source=source,
        params=params,
        frequency=frequency,
        timezone=timezone,
    )


def lock_series(
    *, session: Session, keys: Iterable[str] | None = None, ids: Iterable[int] | None = None
) -> None:
    """Write-lock series rows until the transaction ends: those named by `keys` or `ids`, every
    series when neither is given. An UPDATE that changes nothing: a row lock on PostgreSQL, and
    on SQLite (as a transaction's first write) the write lock, so reads after it are current."""
    stmt = update(Series).values(revision=Series.revision)
    if keys is not None and (names := list(keys)):
        stmt = stmt.where(Series.key.in_(names))
    if ids is not None:
        stmt = stmt.where(Series.id.in_(list(ids)))
    session.execute(stmt)
