"""Bulk upsert throughput on SQLite and PostgreSQL: 100,000 observations, inserted then re-upserted.

    .venv/bin/python bench/ingest.py [--rows 100000]

PostgreSQL: a throwaway cluster is started (as in the tests) unless --postgres-url is given.
The rows are real: ETTh1's 7 hourly variables (data/ett/ETTh1.csv), repeated with
shifted timestamps when more rows are asked for than the file has.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forecaster.db import observations as observations_db  # noqa: E402
from forecaster.db import series as series_db  # noqa: E402
from forecaster.db.session import make_session_factory, upgrade  # noqa: E402
from tests.pg import start_cluster  # noqa: E402

ETT = ROOT / "data" / "ett" / "ETTh1.csv"


def load_rows(n_cells: int) -> pd.DataFrame:
    frame = pd.read_csv(ETT, parse_dates=["date"], index_col="date").astype("float64")
    frame.index.name = "ts"
    n_rows = -(-n_cells // frame.shape[1])
    parts, shift = [], 0
    while sum(len(p) for p in parts) < n_rows:
        part = frame.copy()
        part.index = part.index + pd.Timedelta(hours=shift)
        parts.append(part)
        shift += len(frame)
    return pd.concat(parts).iloc[:n_rows]


def bench(url: str, frame: pd.DataFrame) -> dict[str, float]:
    upgrade(url)
    factory = make_session_factory(url)
    out: dict[str, float] = {}
    for label in ("insert", "re-upsert"):
        t0 = time.perf_counter()
        with factory.begin() as session:
            sid = series_db.register_series(
                session=session, key="bench", source="csv", frequency="h"
            ).id
            n = observations_db.upsert_observations(session=session, series_id=sid, frame=frame)
        dt = time.perf_counter() - t0
        out[f"{label} s"] = dt
        out[f"{label} rows/s"] = n / dt
    with factory.begin() as session:
        t0 = time.perf_counter()
        wide = observations_db.read_frame(session=session, series_id=sid)
        out["read wide s"] = time.perf_counter() - t0
        assert observations_db.count_observations(session=session, series_id=sid) == n == wide.size
    factory.kw["bind"].dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=100_000,
        help="observation cells (variable x timestamp)",
    )
    parser.add_argument("--postgres-url", help="use this server instead of a throwaway cluster")
    args = parser.parse_args()
    frame = load_rows(args.rows)
    cells = frame.size
    print(
        f"upserting {cells:,} observations ({len(frame):,} timestamps x {frame.shape[1]} variables)"
    )
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = bench(f"sqlite:///{tmp}/bench.db", frame)
    cluster = None
    if args.postgres_url:
        results["postgresql"] = bench(args.postgres_url, frame)
    else:
        cluster = start_cluster()
        try:
            results["postgresql"] = bench(cluster.admin_url, frame)
        finally:
            cluster.stop()
    cols = [
        "insert s",
        "insert rows/s",
        "re-upsert s",
        "re-upsert rows/s",
        "read wide s",
    ]
    print(f"{'database':<12}" + "".join(f"{c:>18}" for c in cols))
    for db, r in results.items():
        print(f"{db:<12}" + "".join(f"{r[c]:>18,.2f}" for c in cols))
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


if __name__ == "__main__":
    main()
