"""Observation paging cost against depth: the old way (count(*) + ORDER BY ... OFFSET per page)
beside keyset pages (cursor) through the API, on SQLite and a throwaway PostgreSQL.

    .venv/bin/python bench/observations.py [--cells 1000000] [--no-postgres]

The rows are real: ETTh1's 7 hourly variables (data/ett/ETTh1.csv), repeated with shifted
timestamps up to --cells (as bench/ingest.py does). Pages are 10,000 rows; figures are medians
of 5 reads in ms, through TestClient (JSON included) for the API rows.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.main import create_app  # noqa: E402
from bench.ingest import load_rows  # noqa: E402
from forecaster.config import Settings  # noqa: E402
from forecaster.db import observations as observations_db  # noqa: E402
from forecaster.db import series as series_db  # noqa: E402
from forecaster.db.models import Observation  # noqa: E402
from forecaster.db.session import make_engine, make_session_factory, upgrade  # noqa: E402
from tests.pg import start_cluster  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's TestClient would rather have httpx2
    from fastapi.testclient import TestClient

PAGE = 10_000
URL = "/api/v1/series/bench/observations"


def median_ms(fn: Callable[[], object], n: int = 5) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def bench(url: str, n_cells: int) -> dict[str, float]:
    upgrade(url)
    factory = make_session_factory(url)
    frame = load_rows(n_cells)
    with factory.begin() as session:
        sid = series_db.register_series(
            session=session, key="bench", source="csv", frequency="h"
        ).id
        cells = observations_db.upsert_observations(session=session, series_id=sid, frame=frame)
    if url.startswith("postgresql"):
        with factory.begin() as session:
            session.execute(text("ANALYZE observation"))  # as autovacuum would have by now
    deep_row = int(cells * 0.9)
    deep_ts = frame.index[deep_row // frame.shape[1]]

    def old_page(offset: int) -> None:
        with factory.begin() as session:
            q = select(Observation.ts, Observation.variable, Observation.value).where(
                Observation.series_id == sid
            )
            session.scalar(select(func.count()).select_from(q.subquery()))
            session.execute(
                q.order_by(Observation.ts, Observation.variable).limit(PAGE).offset(offset)
            ).all()

    out = {
        "cells": float(cells),
        "old first page": median_ms(lambda: old_page(0)),
        "old page at 90%": median_ms(lambda: old_page(deep_row), n=3),
    }
    with TestClient(create_app(Settings(database_url=url))) as client:
        cursor = f"{deep_ts.isoformat()},{frame.columns[0]}"
        first = client.get(URL, params={"limit": PAGE})  # computes and caches the count
        assert first.json()["count"] == cells
        out["API first page (count computed)"] = median_ms(
            lambda: client.get(URL, params={"limit": PAGE, "start": "2016-07-02"}), n=1
        )
        out["API first page (count cached)"] = median_ms(
            lambda: client.get(URL, params={"limit": PAGE})
        )
        deep = client.get(URL, params={"limit": PAGE, "cursor": cursor}).json()
        assert len(deep["data"]) == PAGE and deep["next_cursor"]
        out["API cursor page at 90%"] = median_ms(
            lambda: client.get(URL, params={"limit": PAGE, "cursor": cursor})
        )
        out["API offset=50000"] = median_ms(
            lambda: client.get(URL, params={"limit": PAGE, "offset": 50_000})
        )
    factory.kw["bind"].dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"] = bench(f"sqlite:///{tmp}/bench.db", args.cells)
    if not args.no_postgres:
        cluster = start_cluster()
        try:
            name = f"b_{uuid.uuid4().hex[:8]}"
            engine = make_engine(cluster.admin_url)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            engine.dispose()
            results["PostgreSQL"] = bench(cluster.url(name), args.cells)
        finally:
            cluster.stop()
    for db, row in results.items():
        print(f"{db}: {int(row.pop('cells')):,} cells, pages of {PAGE:,} rows (ms)")
        for label, ms in row.items():
            print(f"  {label:34s} {ms:8.0f}")


if __name__ == "__main__":
    main()
