"""Queries and upserts. Functions take the session as a keyword and never commit or close it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Select, bindparam, func, or_, select, text, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from forecaster.db.models import (
    ACTIVE_RUN_STATUSES,
    SOURCES,
    ModelVersion,
    Observation,
    Run,
    Series,
    utcnow,
)
from forecaster.errors import (
    BadDateRange,
    InvalidData,
    InvalidRequest,
    SeriesExists,
    UnknownRun,
    UnknownSeries,
)

_REVISION = text("SELECT version_num FROM alembic_version")

UPSERT_CHUNK = 5_000  # rows per INSERT statement: well under SQLite's 32,766 bound parameters


def _naive_utc(ts: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return ts.tz_convert("UTC").tz_localize(None) if ts.tz is not None else ts


# --- series ---------------------------------------------------------------------------


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


# --- observations ----------------------------------------------------------------------


def frame_to_rows(series_id: int, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Long rows from a wide frame (time index, one float column per variable); NaN -> NULL.

    Raises:
        InvalidData: a value is +-inf (it would be stored, then break every model and metric).
    """
    if frame.empty:
        return []
    index = _naive_utc(pd.DatetimeIndex(frame.index))
    values = frame.to_numpy(dtype="float64")
    infinite = np.isinf(values)
    if infinite.any():  # from any source: NaN is a gap, an infinity is a broken value
        row, col = (int(i[0]) for i in infinite.nonzero())
        raise InvalidData(
            f"variable {str(frame.columns[col])!r} has the infinite value {values[row, col]} at "
            f"{index[row].isoformat()} ({int(infinite.sum())} infinite value(s) in all): only "
            "finite numbers are stored; use NaN (a gap) where there is no value"
        )
    ts = np.repeat(index.to_pydatetime(), values.shape[1])
    variables = np.tile(np.asarray(frame.columns, dtype=object), values.shape[0])
    flat = values.reshape(-1)
    return [
        {
            "series_id": series_id,
            "variable": v,
            "ts": t,
            "value": None if np.isnan(x) else float(x),
        }
        for t, v, x in zip(ts, variables, flat, strict=True)
    ]


def _changes_values(*, session: Session, series_id: int, frame: pd.DataFrame) -> bool:
    """Whether upserting `frame` adds a cell or changes a stored value (NULL = NaN)."""
    if frame.empty:
        return False
    index = _naive_utc(pd.DatetimeIndex(frame.index))
    stored = session.execute(
        select(Observation.ts, Observation.variable, Observation.value).where(
            Observation.series_id == series_id,
            Observation.variable.in_([str(c) for c in frame.columns]),
            Observation.ts >= index.min().to_pydatetime(),
            Observation.ts <= index.max().to_pydatetime(),
        )
    ).all()
    if len(stored) < frame.size:
        return True  # some cell is new
    old = (
        pd.DataFrame(stored, columns=["ts", "variable", "value"])
        .pivot(index="ts", columns="variable", values="value")
        .astype("float64")
    )
    new = frame.set_axis(index, axis=0).astype("float64")
    old = old.reindex(index=new.index, columns=new.columns)
    a, b = new.to_numpy(), old.to_numpy()
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    return not bool(same.all())


def upsert_observations(*, session: Session, series_id: int, frame: pd.DataFrame) -> int:
    """Idempotent bulk upsert of a wide frame: re-running a range never duplicates or loses a row.

    The series row is write-locked first (concurrent ingests of one series serialize); when the
    frame adds a cell or changes a value, `series.revision` is bumped, which invalidates every
    cached and precomputed forecast of the series. Returns the number of cells written.
    """
    lock_series(session=session, ids=[series_id])
    changed = _changes_values(session=session, series_id=series_id, frame=frame)
    rows = frame_to_rows(series_id, frame)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Observation)
    stmt = stmt.on_conflict_do_update(
        index_elements=["series_id", "variable", "ts"],
        set_={"value": stmt.excluded.value},
    )
    for start in range(0, len(rows), UPSERT_CHUNK):
        # executemany: SQLAlchemy batches it into multi-row INSERTs ("insertmanyvalues")
        session.execute(stmt, rows[start : start + UPSERT_CHUNK])
    if rows:
        values: dict[str, Any] = {"updated_at": utcnow()}
        if changed:
            values["revision"] = Series.revision + 1
        session.execute(update(Series).where(Series.id == series_id).values(**values))
    return len(rows)


def latest_timestamp(*, session: Session, series_id: int) -> datetime | None:
    return session.scalar(
        select(func.max(Observation.ts)).where(Observation.series_id == series_id)
    )


def count_observations(*, session: Session, series_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(Observation).where(Observation.series_id == series_id)
        )
        or 0
    )


def _range_query(
    series_id: int,
    start: datetime | None,
    end: datetime | None,
    variables: Sequence[str] | None,
) -> Select[tuple[datetime, str, float | None]]:
    if start is not None and end is not None and start > end:
        raise BadDateRange(f"start={start:%Y-%m-%d} is after end={end:%Y-%m-%d}; give start <= end")
    q = select(Observation.ts, Observation.variable, Observation.value).where(
        Observation.series_id == series_id
    )
    if start is not None:
        q = q.where(Observation.ts >= start)
    if end is not None:
        q = q.where(Observation.ts <= end)
    if variables:
        q = q.where(Observation.variable.in_(list(variables)))
    return q


def read_frame(
    *,
    session: Session,
    series_id: int,
    start: datetime | None = None,
    end: datetime | None = None,
    variables: Sequence[str] | None = None,
) -> pd.DataFrame:
    """A time range as a wide frame: naive-UTC DatetimeIndex named `ts`, one float column per variable."""
    rows = session.execute(_range_query(series_id, start, end, variables)).all()
    if not rows:
        return pd.DataFrame(index=pd.DatetimeIndex([], name="ts"), dtype="float64")
    long = pd.DataFrame(rows, columns=["ts", "variable", "value"])
    wide = long.pivot(index="ts", columns="variable", values="value").astype("float64")
    wide.columns.name = None
    wide.index = pd.DatetimeIndex(wide.index, name="ts")
    return wide.sort_index()


ObservationRow = tuple[datetime, str, float | None]


def count_in_range(
    *,
    session: Session,
    series_id: int,
    start: datetime | None = None,
    end: datetime | None = None,
    variables: Sequence[str] | None = None,
) -> int:
    """Stored (variable, ts) cells in a range: a scan of the range, so callers cache it."""
    q = _range_query(series_id, start, end, variables)
    return session.scalar(select(func.count()).select_from(q.subquery())) or 0


def read_observations_page(
    *,
    session: Session,
    series_id: int,
    variables: Sequence[str],
    start: datetime | None = None,
    end: datetime | None = None,
    after: tuple[datetime, str | None] | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> tuple[list[ObservationRow], bool]:
    """One page of long rows ordered by (ts, variable), and whether more follow.

    Keyset pagination: `after` is the (ts, variable) of the last row already read (variable
    None: every variable at ts was read). Each variable is read from the primary key
    (series_id, variable, ts) as its own short range (at most offset + limit + 1 rows, and no
    later than a bound found first), so the cost is the page's, not the series' size. Rows are ordered in Python (code-point order), the same
    on SQLite and PostgreSQL whatever the database's collation.
    """
    if start is not None and end is not None and start > end:
        raise BadDateRange(f"start={start:%Y-%m-%d} is after end={end:%Y-%m-%d}; give start <= end")
    if not variables:
        return [], False
    take = offset + limit + 1

    def variable_rows(variable: str) -> Select[tuple[datetime, str, float | None]]:
        q = select(Observation.ts, Observation.variable, Observation.value).where(
            Observation.series_id == series_id, Observation.variable == variable
        )
        if start is not None:
            q = q.where(Observation.ts >= start)
        if end is not None:
            q = q.where(Observation.ts <= end)
        if after is not None:
            ts, last_variable = after
            # at ts itself, only the variables after the cursor's are still to come
            done_at_ts = last_variable is None or variable <= last_variable
            q = q.where(Observation.ts > ts if done_at_ts else Observation.ts >= ts)
        return q.order_by(Observation.ts)

    # A bound on the page's last timestamp, so that aligned variables are not each read `take`
    # rows deep: when every variable has a k-th row (k = take / variables, rounded up), the
    # first `take` rows all lie at or before the latest of those k-th timestamps.
    k = -(-take // len(variables))
    kth = session.execute(
        select(
            *(
                variable_rows(v)
                .with_only_columns(Observation.ts)
                .offset(k - 1)
                .limit(1)
                .scalar_subquery()
                for v in variables
            )
        )
    ).one()
    bound = max(kth) if all(t is not None for t in kth) else None
    parts = []
    for variable in variables:
        q = variable_rows(variable)
        if bound is not None:
            q = q.where(Observation.ts <= bound)
        parts.append(q.limit(take).subquery().select())
    stmt = parts[0] if len(parts) == 1 else union_all(*parts)
    rows = sorted(((r[0], r[1], r[2]) for r in session.execute(stmt)), key=lambda r: r[:2])
    page = rows[offset : offset + limit]
    return page, len(rows) > offset + limit


# --- runs -----------------------------------------------------------------------------


def create_run(
    *,
    session: Session,
    kind: str,
    parameters: dict[str, Any] | None = None,
    trigger: str | None = None,
    reason: str | None = None,
) -> Run:
    run = Run(
        kind=kind, parameters=parameters or {}, status="pending", trigger=trigger, reason=reason
    )
    session.add(run)
    session.flush()
    return run


def get_run(*, session: Session, run_id: int) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise UnknownRun(run_id=run_id)
    return run


def start_run(*, session: Session, run_id: int, flow_run_id: str | None = None) -> None:
    run = get_run(session=session, run_id=run_id)
    run.status, run.started_at = "running", utcnow()
    if flow_run_id:
        run.flow_run_id = flow_run_id


def finish_run(
    *,
    session: Session,
    run_id: int,
    status: str,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    run = get_run(session=session, run_id=run_id)
    run.status, run.finished_at = status, utcnow()
    run.result = result or {}
    run.error = error


def list_runs(
    *,
    session: Session,
    kind: str | None = None,
    status: str | None = None,
    limit: int = 50,
) -> Sequence[Run]:
    q = select(Run).order_by(Run.id.desc()).limit(limit)
    if kind:
        q = q.where(Run.kind == kind)
    if status:
        q = q.where(Run.status == status)
    return session.scalars(q).all()


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


def runs_to_reap(
    *, session: Session, stale_before: datetime, pending_before: datetime
) -> Sequence[Run]:
    """Running runs whose lease was last renewed before `stale_before`, and pending runs
    created before `pending_before` (rows another reaper holds are skipped)."""
    q = select(Run).where(
        Run.status.in_(ACTIVE_RUN_STATUSES),
        or_(
            (Run.status == "running")
            & (
                Run.heartbeat_at.is_(None) & (Run.started_at < stale_before)
                | (Run.heartbeat_at < stale_before)
            ),
            (Run.status == "pending") & (Run.created_at < pending_before),
        ),
    )
    return session.scalars(q.with_for_update(skip_locked=True)).all()


def all_active_runs(*, session: Session) -> Sequence[Run]:
    return session.scalars(select(Run).where(Run.status.in_(ACTIVE_RUN_STATUSES))).all()


def renew_lease(*, session: Session, run_id: int) -> datetime | None:
    """Renew a running run's heartbeat; returns when a cancel was requested (None: never)."""
    session.execute(
        update(Run).where(Run.id == run_id, Run.status == "running").values(heartbeat_at=utcnow())
    )
    return cancel_requested_at(session=session, run_id=run_id)


def cancel_requested_at(*, session: Session, run_id: int) -> datetime | None:
    return session.scalar(select(Run.cancel_requested_at).where(Run.id == run_id))


def run_of_flow_run(*, session: Session, flow_run_id: str) -> Run | None:
    return session.scalars(select(Run).where(Run.flow_run_id == flow_run_id)).first()


def active_runs(*, session: Session, kind: str) -> Iterable[Run]:
    return session.scalars(
        select(Run).where(Run.kind == kind, Run.status.in_(ACTIVE_RUN_STATUSES)).order_by(Run.id)
    ).all()


# --- API helpers ----------------------------------------------------------------------


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


def series_summary(*, session: Session, key: str) -> dict[str, Any]:
    """`series_summaries` for one series (UnknownSeries if the key is not registered)."""
    series = get_series(session=session, key=key)
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


_CHAMPION_KEY = (
    select(ModelVersion.id, ModelVersion.status, Series.revision)
    .join(Series, ModelVersion.series_id == Series.id)
    .where(
        Series.key == bindparam("key"),
        ModelVersion.strategy == bindparam("strategy"),
        ModelVersion.status == "champion",
    )
    .limit(1)
)
_VERSION_KEY = (
    select(ModelVersion.id, ModelVersion.status, Series.revision, ModelVersion.strategy)
    .join(Series, ModelVersion.series_id == Series.id)
    .where(Series.key == bindparam("key"), ModelVersion.id == bindparam("version_id"))
)


def forecast_key(
    *, session: Session, series_key: str, strategy: str | None, version_id: int | None = None
) -> tuple[int, str, int] | None:
    """(version id, status, series.revision) of the model a forecast read would use, in one
    query: the strategy's champion (None: recursive), or `version_id` when it belongs to the
    series and has that strategy (None: any).

    Every ingest that adds or changes a value bumps `revision`, so the triple changes with new
    or revised data or a new champion: a cache keyed by it needs no other invalidation. None when there is no such
    model (the caller then raises the precise error). Built once and run on the session's
    connection (Core, not ORM): this is the whole database cost of a cached forecast read.
    """
    conn = session.connection()
    if version_id is None:
        params = {"key": series_key, "strategy": strategy or "recursive"}
        row = conn.execute(_CHAMPION_KEY, params).first()
        return None if row is None else (row[0], row[1], row[2])
    found = conn.execute(_VERSION_KEY, {"key": series_key, "version_id": version_id}).first()
    if found is None or (strategy is not None and found[3] != strategy):
        return None  # none, or a strategy that contradicts it: the caller raises the precise error
    return (found[0], found[1], found[2])


def schema_revision(*, engine: Engine) -> str | None:
    """The Alembic revision stored in the database (None: never migrated); raises when the
    database cannot be reached. A tenth of the cost of Alembic's MigrationContext, so /health
    can afford it on every call."""
    with engine.connect() as conn:
        try:
            return conn.execute(_REVISION).scalar()
        except DBAPIError:
            return None  # no alembic_version table


def last_timestamps(
    *,
    session: Session,
    series_id: int,
    n: int,
    end: datetime | None = None,
    variables: Sequence[str] | None = None,
) -> list[datetime]:
    """The last `n` distinct timestamps up to `end` (ascending): a forecast's lookback rows."""
    q = select(Observation.ts).where(Observation.series_id == series_id)
    if end is not None:
        q = q.where(Observation.ts <= end)
    if variables:
        q = q.where(Observation.variable.in_(list(variables)))
    return sorted(session.scalars(q.distinct().order_by(Observation.ts.desc()).limit(n)))
