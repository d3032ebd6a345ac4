"""The observation table: a series' values, written as idempotent upserts, read as wide frames,
counts and keyset pages. Functions take the session as a keyword and never commit or close it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, func, select, union_all, update
from sqlalchemy.orm import Session

from forecaster.db.models import Observation, Series, utcnow
from forecaster.db.series import lock_series
from forecaster.errors import BadDateRange, InvalidData
from forecaster.values import naive_utc_index


@dataclass(frozen=True)
class Cells:
    """A wide frame as the long rows the driver binds: (variable, ts, value) tuples, ts in the
    dialect's own form (SQLite: SQLAlchemy's DateTime text; PostgreSQL: a naive datetime), NaN
    as NULL. Built before the write lock is taken: the rows cost more Python than their INSERT.
    """

    rows: list[tuple[str, Any, float | None]]
    first: datetime | None  # the covered range, for scoring the forecast log
    last: datetime | None

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, dialect: str) -> Cells:
        """The cells of a wide frame (time index, one float column per variable).

        Raises:
            InvalidData: a value is +-inf (it would be stored, then break every model and metric).
        """
        if frame.empty:
            return cls([], None, None)
        index = naive_utc_index(pd.DatetimeIndex(frame.index))
        values = frame.to_numpy(dtype="float64")  # (T, F)
        infinite = np.isinf(values)
        if infinite.any():  # from any source: NaN is a gap, an infinity is a broken value
            row, col = (int(i[0]) for i in infinite.nonzero())
            raise InvalidData(
                f"variable {str(frame.columns[col])!r} has the infinite value {values[row, col]} "
                f"at {index[row].isoformat()} ({int(infinite.sum())} infinite value(s) in all): "
                "only finite numbers are stored; use NaN (a gap) where there is no value"
            )
        stamps = index.to_numpy().astype("datetime64[us]")
        if dialect == "sqlite":  # exactly SQLAlchemy's DateTime text, or upserts would not match
            ts: list[Any] = np.char.replace(
                np.datetime_as_string(stamps, unit="us"), "T", " "
            ).tolist()
        else:
            ts = list(index.to_pydatetime())
        rows: list[tuple[str, Any, float | None]] = []
        for j, variable in enumerate(str(c) for c in frame.columns):
            column = values[:, j].astype(object)  # (T,) floats, None where NaN
            column[np.isnan(values[:, j])] = None
            rows.extend(zip([variable] * len(ts), ts, column.tolist(), strict=True))
        return cls(rows, index.min().to_pydatetime(), index.max().to_pydatetime())


_UPSERT = (
    "INSERT INTO observation (series_id, variable, ts, value) VALUES ({sid}, {p}, {p}, {p}) "
    "ON CONFLICT (series_id, variable, ts) DO UPDATE SET value = excluded.value "
    # only a changed value is written, so the row count says whether anything changed
    "WHERE observation.value IS {distinct} excluded.value"
)


def upsert_observations(*, session: Session, series_id: int, frame: pd.DataFrame | Cells) -> int:
    """Idempotent bulk upsert of a wide frame: re-running a range never duplicates or loses a row.

    The series row is write-locked first (concurrent ingests of one series serialize; on SQLite
    this takes the database's write lock), then the rows go in as one driver-level executemany:
    no ORM, no per-row SQL compilation, so the lock is held for the INSERT itself (about 2 s
    per million cells on SQLite). Pass `Cells` built beforehand to keep their building out of
    the lock too. When the upsert adds a cell or changes a value, `series.revision` is bumped,
    which invalidates every cached and precomputed forecast of the series. Returns the number
    of cells written.
    """
    dialect = session.get_bind().dialect
    cells = frame if isinstance(frame, Cells) else Cells.from_frame(frame, dialect=dialect.name)
    lock_series(session=session, ids=[series_id])
    if not cells.rows:
        return 0
    sql = _UPSERT.format(
        sid=int(series_id),
        p="?" if dialect.paramstyle == "qmark" else "%s",
        distinct="NOT" if dialect.name == "sqlite" else "DISTINCT FROM",
    )
    changed = session.connection().exec_driver_sql(sql, cells.rows).rowcount
    values: dict[str, Any] = {"updated_at": utcnow()}
    if changed != 0:  # -1: the driver cannot say; count it as a change
        values["revision"] = Series.revision + 1
    session.execute(update(Series).where(Series.id == series_id).values(**values))
    return len(cells.rows)


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
    queries = [_variable_rows(series_id, v, start, end, after) for v in variables]
    bound = _page_bound(session, queries, take)
    parts = []
    for q in queries:
        if bound is not None:
            q = q.where(Observation.ts <= bound)
        parts.append(q.limit(take).subquery().select())
    stmt = parts[0] if len(parts) == 1 else union_all(*parts)
    rows = sorted(((r[0], r[1], r[2]) for r in session.execute(stmt)), key=lambda r: r[:2])
    page = rows[offset : offset + limit]
    return page, len(rows) > offset + limit


def _variable_rows(
    series_id: int,
    variable: str,
    start: datetime | None,
    end: datetime | None,
    after: tuple[datetime, str | None] | None,
) -> Select[tuple[datetime, str, float | None]]:
    """One variable's rows of a page, in ts order: a short range of the primary key."""
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


def _page_bound(
    session: Session, queries: Sequence[Select[tuple[datetime, str, float | None]]], take: int
) -> datetime | None:
    """A bound on the page's last timestamp, so that aligned variables are not each read `take`
    rows deep: when every variable has a k-th row (k = take / variables, rounded up), the first
    `take` rows all lie at or before the latest of those k-th timestamps (None: no bound)."""
    k = -(-take // len(queries))
    kth = session.execute(
        select(
            *(
                q.with_only_columns(Observation.ts).offset(k - 1).limit(1).scalar_subquery()
                for q in queries
            )
        )
    ).one()
    return max(kth) if all(t is not None for t in kth) else None
