"""A 300,000-row CSV ingest on a SQLite file beside a live run's lease and API reads.

    .venv/bin/python bench/sqlite_ingest.py [--rows 300000]

Runs `forecaster ingest csv` (the real CLI, a child process) on a seeded hourly CSV of two
variables while this process renews a run's lease every 0.25 s and reads GET /api/v1/series
through the app (TestClient) every 50 ms; prints the ingest's wall time and cells/s, the
longest heartbeat wait, and the reads' p50/p99/max. tests/api/test_sqlite_ingest.py asserts the
behaviour (no heartbeat fails, the run is not reaped); this prints the latencies.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.main import create_app  # noqa: E402
from flows.leases import Lease  # noqa: E402
from forecaster.app import ingest  # noqa: E402
from forecaster.app.runs import LeasePolicy, claim  # noqa: E402
from forecaster.config import Settings  # noqa: E402
from forecaster.db import runs as runs_db  # noqa: E402
from forecaster.db.session import Database, upgrade  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=300_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.csv"
        rng = np.random.default_rng(22)
        index = pd.date_range("1990-01-01", periods=args.rows, freq="h")
        pd.DataFrame(
            {"load": rng.normal(size=args.rows).round(4), "temp": rng.normal(size=args.rows)},
            index=pd.Index(index.strftime("%Y-%m-%d %H:%M:%S"), name="ts"),
        ).to_csv(path)
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        policy = LeasePolicy(heartbeat_s=0.25, stale_s=30.0)
        with Database(url) as db:
            with db.sessions.begin() as session:
                ingest.register(
                    session=session, registrations=[ingest.Registration("other", "csv")]
                )
                run_id = claim(
                    session=session,
                    kind="retrain",
                    series=["other"],
                    parameters={"series": ["other"]},
                    policy=policy,
                    exclusive=True,
                ).id
                runs_db.start_run(session=session, run_id=run_id)
            lease = Lease(db.sessions, run_id, policy)
            beats: list[float] = []
            done = threading.Event()

            def heartbeat() -> None:
                while not done.wait(policy.heartbeat_s):
                    t0 = time.perf_counter()
                    lease.beat()
                    beats.append(time.perf_counter() - t0)

            settings = Settings(database_url=url, api_key=SecretStr("bench"))
            threading.Thread(target=heartbeat, daemon=True).start()
            reads: list[float] = []
            with TestClient(create_app(settings)) as client:
                env = {**os.environ, "PYTHONPATH": str(ROOT), "FORECASTER_DATA_DIR": folder}
                t0 = time.perf_counter()
                child = subprocess.Popen(
                    [sys.executable, "-m", "forecaster.cli", "--database-url", url]
                    + ["ingest", "csv", str(path), "--key", "big"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                while child.poll() is None:
                    r0 = time.perf_counter()
                    assert client.get("/api/v1/series").status_code == 200
                    reads.append(time.perf_counter() - r0)
                    time.sleep(0.05)
                wall = time.perf_counter() - t0
            done.set()
    ms = np.array(reads) * 1000
    print(f"rows {args.rows:,} ({2 * args.rows:,} cells), load {os.getloadavg()[0]:.1f}")
    print(f"ingest (CLI, start-up included): {wall:.1f} s, {2 * args.rows / wall:,.0f} cells/s")
    print(f"heartbeats: {len(beats)}, longest {max(beats):.2f} s (a lease lapses after 30 s)")
    print(
        f"GET /api/v1/series: {len(ms)} reads, p50 {np.percentile(ms, 50):.0f} ms, "
        f"p99 {np.percentile(ms, 99):.0f} ms, max {ms.max():.0f} ms"
    )


if __name__ == "__main__":
    main()
