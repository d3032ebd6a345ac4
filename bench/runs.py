"""Orchestration overhead of a flow run: an ingest and a quick retrain of one bundled series,
through the CLI and through the API, with and without a running Prefect server.

    .venv/bin/python bench/runs.py [--repeats 3]

Modes:
- `cli, no server`: `forecaster ingest|retrain` with no Prefect server up: each command starts
  a temporary one (in the project's own PREFECT_HOME) and stops it.
- `cli, project server`: the same commands while `forecaster serve` is up: they find the
  project's Prefect server (`.prefect/server.json`) and use it.
- `api`: `POST /api/v1/runs` to that `forecaster serve`, polled until the run ends (the embedded
  default: a flow run of the deployment, executed by a thread of the API process).
- `api, deployment worker`: the production path: a second `forecaster serve` with
  FORECASTER_PREFECT_API_URL set creates the flow run Scheduled, and the worker that the first
  `serve` runs (`python -m flows.deploy`, polling every 2 s) executes it in a subprocess.

`work` is the run row's started_at -> finished_at (inside the flow body: fetch/store, or
train/backtest/register/promote/forecast); `overhead` is wall time less work (process start,
imports, Prefect server start-up and flow/task bookkeeping, polling granularity 0.1 s for the
API). Training is bounded by epochs, so the work is the same in every mode. The retrain uses
one quick candidate (GRU direct, 3 epochs) so that the overhead is not lost in the noise of
five candidates.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.pg import free_port  # noqa: E402

CLI = str(Path(sys.executable).parent / "forecaster")
CSV = ROOT / "forecaster" / "sample_data" / "seattle_daily.csv"
RETRAIN_YAML = """
metric: mase
backtest_origins: 20
defaults: {lookback: 28, horizon: 7, hidden_size: 16, num_layers: 1, epochs: 3, patience: 10,
           batch_size: 64, time_budget_s: 300}
candidates:
  - {architecture: gru, strategy: direct}
"""
KEY = "seattle"
API_KEY = "bench"


def _last_run(db: Path) -> dict[str, float]:
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT id, status, started_at, finished_at FROM run ORDER BY id DESC LIMIT 1")
        ).one()
    engine.dispose()
    from datetime import datetime

    started, finished = (datetime.fromisoformat(str(v)) for v in (row[2], row[3]))
    assert row[1] == "completed", f"run {row[0]} ended {row[1]}"
    return {"id": row[0], "work": (finished - started).total_seconds()}


def _cli(env: dict[str, str], cwd: Path, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run([CLI, *args], cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def _api(base: str, kind: str) -> float:
    body = json.dumps({"kind": kind, "series": [KEY]}).encode()
    start = time.perf_counter()
    req = urllib.request.Request(
        f"{base}/api/v1/runs",
        data=body,
        headers={"Content-Type": "application/json", "X-API-Key": API_KEY},
    )
    with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - loopback
        run_id = json.loads(r.read())["id"]
    while True:
        with urllib.request.urlopen(f"{base}/api/v1/runs/{run_id}", timeout=30) as r:  # noqa: S310
            status = json.loads(r.read())["status"]
        if status not in ("pending", "running"):
            break
        time.sleep(0.1)
    return time.perf_counter() - start


def _wait_health(base: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2):  # noqa: S310
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _wait_ready(prefect_url: str) -> None:
    """Until the schedule worker of `serve` has its deployments READY."""
    deadline = time.monotonic() + 180
    while True:
        done = subprocess.run(
            [sys.executable, "-m", "flows.deploy", "--check"],
            cwd=ROOT,
            env={**os.environ, "PREFECT_API_URL": prefect_url},
            capture_output=True,
        )
        if done.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(done.stdout.decode() + done.stderr.decode())
        time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work_dir = Path(tempfile.mkdtemp(prefix="forecaster-bench-runs-"))
    db = work_dir / "bench.db"
    (work_dir / "retrain.yaml").write_text(RETRAIN_YAML)
    shutil.copy(CSV, work_dir / "seattle.csv")
    env = {
        **os.environ,
        "FORECASTER_DATABASE_URL": f"sqlite:///{db}",
        "FORECASTER_RETRAIN_CONFIG": str(work_dir / "retrain.yaml"),
        "FORECASTER_TORCH_THREADS": "2",
        "FORECASTER_API_KEY": API_KEY,
    }
    env.pop("PREFECT_API_URL", None)
    subprocess.run([CLI, "db", "upgrade"], cwd=work_dir, env=env, check=True)
    ingest = ("ingest", "csv", "seattle.csv", "--key", KEY)
    retrain = ("retrain", KEY)
    _cli(env, work_dir, *ingest)  # the series exists before the first measured ingest

    rows: dict[tuple[str, str], list[tuple[float, float]]] = {}
    # A CLI command's fixed cost before any orchestration: start Python, import the flow
    # (torch, pandas, Prefect). Measured alone, so the table can split it out.
    imports = {}
    for kind in ("ingest", "retrain"):
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", f"import forecaster.cli.main, flows.{kind}"],
                cwd=ROOT,
                env=env,
                check=True,
            )
            times.append(time.perf_counter() - start)
        imports[kind] = statistics.median(times)

    def record(mode: str, kind: str, wall: float) -> None:
        work = _last_run(db)["work"]
        rows.setdefault((mode, kind), []).append((wall, work))

    for _ in range(args.repeats):
        record("cli, no server", "ingest", _cli(env, work_dir, *ingest))
        record("cli, no server", "retrain", _cli(env, work_dir, *retrain))

    port = free_port()
    server = subprocess.Popen(
        [CLI, "serve", "--port", str(port)],
        cwd=work_dir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_health(base)
        for _ in range(args.repeats):
            record("cli, project server", "ingest", _cli(env, work_dir, *ingest))
            record("cli, project server", "retrain", _cli(env, work_dir, *retrain))
            record("api", "ingest", _api(base, "ingest"))
            record("api", "retrain", _api(base, "retrain"))
        prefect_url = json.loads((work_dir / ".prefect" / "server.json").read_text())["url"]
        _wait_ready(prefect_url)
        port2 = free_port()
        production = subprocess.Popen(
            [CLI, "serve", "--port", str(port2)],
            cwd=work_dir,
            env={**env, "FORECASTER_PREFECT_API_URL": prefect_url, "PREFECT_API_URL": prefect_url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base2 = f"http://127.0.0.1:{port2}"
        try:
            _wait_health(base2)
            for _ in range(args.repeats):
                record("api, deployment worker", "ingest", _api(base2, "ingest"))
                record("api, deployment worker", "retrain", _api(base2, "retrain"))
        finally:
            production.terminate()
            production.wait(timeout=60)
    finally:
        server.terminate()
        server.wait(timeout=60)
    leftover = (work_dir / ".prefect" / "server.json").exists()

    print(
        f"bench/runs.py: {args.repeats} repeats, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}"
    )
    print()
    print(
        "| mode | flow | wall s | work s | overhead s (min-max) | of which process start + "
        "imports s | orchestration s |"
    )
    print("|---|---|---|---|---|---|---|")
    for (mode, kind), values in rows.items():
        walls = [w for w, _ in values]
        works = [k for _, k in values]
        overheads = [w - k for w, k in values]
        # a CLI command and a worker's flow-run subprocess import the flow; the API does not
        fixed = imports[kind] if mode.startswith("cli") or "worker" in mode else 0.0
        overhead = statistics.median(overheads)
        print(
            f"| {mode} | {kind} | {statistics.median(walls):.2f} | {statistics.median(works):.2f} "
            f"| {overhead:.2f} ({min(overheads):.2f}-{max(overheads):.2f}) | {fixed:.2f} "
            f"| {overhead - fixed:.2f} |"
        )
    print()
    print("Medians. work: the run row's started_at -> finished_at; orchestration: overhead less")
    print("the process start and imports a CLI command pays anyway (measured alone).")
    print()
    print(f"Prefect server left running after `serve` stopped: {'yes' if leftover else 'no'}")
    shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
