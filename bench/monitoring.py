"""Live accuracy: scoring throughput, the accuracy route under concurrent readers, and replays.

    .venv/bin/python bench/monitoring.py scoring [--series 200 --origins 250 --horizon 10]
    .venv/bin/python bench/monitoring.py route [--duration 20 --concurrency 32]
    .venv/bin/python bench/monitoring.py replay [--years 2 | --days 60] [--keys AAPL IBM seattle-weather]

- scoring: a forecast log of series x origins x horizon points (one variable, one champion per
  series) on a SQLite file and on a throwaway PostgreSQL 15; the actuals are ingested for every
  target, then each series is scored as an ingest does (one UPDATE per series over the fetched
  range), and then again (a revision touching everything). Prints points scored per second,
  the log's row count and its size (table + indexes).
- route: the same SQLite log served by uvicorn; GET /api/v1/series/{key}/accuracy over random
  series by `concurrency` raw asyncio clients (bench/api.py's), beside GET /health as the floor.
- replay: `forecaster.replay` of each key's last `years` years (or `days` rows) with the shipped
  retrain policy (forecaster/retrain.yaml's `policy:`), the weekly schedule and never retraining
  (a tiny one-candidate model config so it fits on two cores), each on its own SQLite file with
  the real retrain flow.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api import Result, drive, start_api  # noqa: E402

TARGET_POINTS_S = 50_000
TARGET_P99_MS = 50.0
REPLAY_YAML = """
metric: mase
backtest_origins: 20
defaults: {lookback: 28, horizon: 5, hidden_size: 16, num_layers: 1, epochs: 8, patience: 4,
           batch_size: 64, time_budget_s: 300}
by_frequency:
  B: {transform: log_return, targets: [close], inputs: [close]}
  D: {targets: [tmax], inputs: [tmax, tmin]}
candidates:
  - {architecture: gru, strategy: recursive}
"""


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --- scoring ---------------------------------------------------------------------------------


def build_log(url: str, n_series: int, n_origins: int, horizon: int) -> dict[str, Any]:
    """Series with observations, one champion each, and a fully logged forecast history."""
    import numpy as np
    from sqlalchemy import insert

    from forecaster.db import series as series_db
    from forecaster.db.models import Evaluation, ForecastLogPoint, ModelVersion, Observation, Series
    from forecaster.db.session import make_session_factory, upgrade

    upgrade(url)
    factory = make_session_factory(url)
    rng = np.random.default_rng(0)
    start = datetime(2024, 1, 1)
    days = [start + timedelta(days=d) for d in range(n_origins + horizon)]
    with factory.begin() as session:
        session.execute(
            insert(Series),
            [
                {"key": f"S{i:03d}", "source": "csv", "params": {}, "frequency": "D"}
                for i in range(n_series)
            ],
        )
        ids = {s.key: s.id for s in series_db.list_series(session=session)}
        session.execute(
            insert(ModelVersion),
            [
                {
                    "series_id": sid,
                    "architecture": "gru",
                    "strategy": "recursive",
                    "status": "champion",
                }
                for sid in ids.values()
            ],
        )
        versions = {v.series_id: v.id for v in session.query(ModelVersion)}
        evals = [
            {"model_version_id": vid, "split": "backtest", "model": who, "variable": "y",
             "step": step, "metric": metric, "value": 1.0 + 0.05 * step}
            for vid in versions.values()
            for who in ("model", "naive")
            for step in range(horizon + 1)
            for metric in ("mae", "rmse", "mase", "coverage")
        ]  # fmt: skip
        session.execute(insert(Evaluation), evals)
    values: dict[int, np.ndarray] = {}
    for sid in ids.values():
        walk = 100 + rng.normal(size=len(days)).cumsum()
        values[sid] = walk
    t0 = time.perf_counter()
    for sid, vid in versions.items():
        walk = values[sid]
        rows = []
        for o in range(n_origins):
            origin = days[o]
            naive = float(walk[o])
            for h in range(1, horizon + 1):
                v = naive + float(rng.normal(scale=0.5))
                rows.append(
                    {"model_version_id": vid, "origin": origin, "step": h, "variable": "y",
                     "series_id": sid, "strategy": "recursive", "ts": days[o + h], "value": v,
                     "lower": v - 1.5, "upper": v + 1.5, "level": 0.9, "naive": naive,
                     "logged_at": datetime(2025, 1, 1)}
                )  # fmt: skip
        with factory.begin() as session:
            session.execute(insert(ForecastLogPoint), rows)  # executemany: batched VALUES
            session.execute(
                insert(Observation),
                [{"series_id": sid, "variable": "y", "ts": t, "value": float(x)}
                 for t, x in zip(days, walk, strict=True)],
            )  # fmt: skip
    built = time.perf_counter() - t0
    print(f"  built {url.split(':')[0]}: {len(ids)} series in {built:.0f} s", flush=True)
    return {"factory": factory, "ids": ids, "days": days, "build_s": built}


def size_of(url: str, factory: Any) -> str:
    from sqlalchemy import text

    with factory.begin() as session:
        if url.startswith("sqlite"):
            try:
                n = session.execute(
                    text(
                        "SELECT sum(pgsize) FROM dbstat WHERE name = 'forecast_log' "
                        "OR name LIKE 'ix_forecast_log%' OR name = 'sqlite_autoindex_forecast_log_1'"
                    )
                ).scalar()
            except Exception:  # noqa: BLE001 - dbstat not compiled in: the file size instead
                n = Path(url.removeprefix("sqlite:///")).stat().st_size
        else:
            n = session.execute(text("SELECT pg_total_relation_size('forecast_log')")).scalar()
    return f"{int(n or 0) / 2**20:.1f} MiB"


def bench_scoring(args: argparse.Namespace) -> None:
    from forecaster.db import forecast_log
    from tests.pg import start_cluster

    tmp = Path(tempfile.mkdtemp(prefix="forecaster-monitoring-"))
    points = args.series * args.origins * args.horizon
    urls = {"SQLite": f"sqlite:///{tmp / 'scoring.db'}"}
    cluster = None
    if not args.no_postgres:
        cluster = start_cluster()
        from sqlalchemy import text

        from forecaster.db.session import make_engine

        engine = make_engine(cluster.admin_url)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text('CREATE DATABASE "bench"'))
        engine.dispose()
        urls["PostgreSQL"] = cluster.url("bench")
    print(f"{args.series} series x {args.origins} origins x H={args.horizon}: {points:,} points")
    try:
        for name, url in urls.items():
            built = build_log(url, args.series, args.origins, args.horizon)
            factory = built["factory"]
            for label in ("first scoring", "unchanged re-fetch", "re-scoring (revision)"):
                if label.startswith("re-scoring"):  # the source revised every value
                    from sqlalchemy import text

                    with factory.begin() as session:
                        session.execute(text("UPDATE observation SET value = value + 0.01"))
                before = load()
                t0, cpu0 = time.perf_counter(), time.process_time()
                scored = 0
                for sid in built["ids"].values():
                    with factory.begin() as session:  # one ingest's transaction per series
                        scored += forecast_log.score(
                            session=session,
                            series_id=sid,
                            ts_from=built["days"][0],
                            ts_to=built["days"][-1],
                        )
                dt = time.perf_counter() - t0
                # SQLite works in this process: its CPU time is the work, whatever the load
                cpu = time.process_time() - cpu0
                if label == "unchanged re-fetch":  # nothing to write: the cost of looking
                    print(f"{name:<10} {label:<22} {points:>9,} points checked in {dt:6.2f} s, "
                          f"{scored} rewritten (load {before})")  # fmt: skip
                    continue
                print(
                    f"{name:<10} {label:<22} {scored:>9,} points in {dt:6.2f} s = "
                    f"{scored / dt:>9,.0f} points/s; {scored / cpu:>9,.0f} per CPU-second of this "
                    f"process (target {TARGET_POINTS_S:,}/s on SQLite; load {before})"
                )
            with factory.begin() as session:
                rows = forecast_log.count_points(session=session)
            print(f"{name:<10} forecast_log: {rows:,} rows, {size_of(url, factory)} with indexes")
            factory.kw["bind"].dispose()
    finally:
        if cluster is not None:
            cluster.stop()


# --- the accuracy route ----------------------------------------------------------------------


def bench_route(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="forecaster-monitoring-"))
    url = f"sqlite:///{tmp / 'route.db'}"
    built = build_log(url, args.series, args.origins, args.horizon)
    keys = list(built["ids"])
    built["factory"].kw["bind"].dispose()
    port, server = start_api(url)
    try:
        random.seed(0)
        results: list[Result] = []
        for name, path in (
            ("GET /health", "/health"),
            ("GET .../accuracy", None),
        ):
            before = load()
            if path is None:  # each client reads one series' figures, a different one each
                res = asyncio.run(_accuracy(port, keys, args.duration, args.concurrency))
            else:
                res = asyncio.run(
                    drive(name, port, path, seconds=args.duration, concurrency=args.concurrency, client="raw")
                )  # fmt: skip
            res.name = name
            results.append(res)
            print(f"{res.line()}   (load before {before})")
        acc = results[-1]
        print(
            f"accuracy route p99 {acc.pct(99):.1f} ms (target < {TARGET_P99_MS:g} ms), "
            f"{args.series} series x {args.origins} origins x H={args.horizon} logged"
        )
    finally:
        server.terminate()
        server.wait(10)


async def _accuracy(port: int, keys: list[str], seconds: float, concurrency: int) -> Result:
    out = Result("accuracy")
    start = time.perf_counter()
    await asyncio.gather(
        *(drive_one(port, keys[i % len(keys)], start + seconds, out) for i in range(concurrency))
    )
    out.seconds = time.perf_counter() - start
    return out


async def drive_one(port: int, key: str, stop_at: float, out: Result) -> None:
    from bench.api import _raw_worker

    await _raw_worker(port, f"/api/v1/series/{key}/accuracy", stop_at, out)


# --- replay ----------------------------------------------------------------------------------


def bench_replay(args: argparse.Namespace) -> None:
    import pandas as pd

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    tmp = Path(tempfile.mkdtemp(prefix="forecaster-replay-"))
    os.environ.setdefault("PREFECT_HOME", str(tmp / ".prefect"))
    config = tmp / "replay.yaml"
    config.write_text(REPLAY_YAML)

    from flows.retrain import retrain
    from forecaster.app.replay import history, replay
    from forecaster.db.session import make_session_factory, upgrade
    from forecaster.retrain_config import load_retrain_config

    # the policy the service ships (forecaster/retrain.yaml), not one tuned for the replay
    policy = load_retrain_config(ROOT / "forecaster" / "retrain.yaml").policy
    print(f"policy (forecaster/retrain.yaml): {policy}")
    rows: list[tuple[Any, ...]] = []
    for key in args.keys:
        frame, _ = history(key)
        if args.years:
            index = pd.DatetimeIndex(frame.index)
            begin = index[-1] - pd.DateOffset(years=args.years)
            start = index[int(index.searchsorted(begin))].date()
        else:
            start = pd.Timestamp(frame.index[-args.days]).date()
        for schedule in ("policy", "weekly", "never"):
            url = f"sqlite:///{tmp / f'{key}-{schedule}.db'}"
            upgrade(url)
            sessions = make_session_factory(url)

            def run(run_id: int, url: str = url, key: str = key) -> dict[str, Any]:
                return retrain(
                    series=[key], database_url=url, run_id=run_id, config_path=str(config),
                    threads=1,
                ).to_json()  # fmt: skip

            before = load()
            t0 = time.perf_counter()
            report = replay(
                sessions=sessions,
                series_key=key,
                start=start,
                retrain=run,
                schedule=schedule,
                policy=policy,
            )
            dt = time.perf_counter() - t0
            t = report.totals.get("recursive", {})
            print(
                f"{key:<16} {schedule:<7} {report.days} days from {start}: "
                f"{report.retrains:>3} retrains, live MAE {t.get('mae') or float('nan'):.4f} "
                f"(naive {t.get('naive_mae') or float('nan'):.4f}, MASE "
                f"{t.get('mase') or float('nan'):.3f}), coverage "
                f"{t.get('coverage') or float('nan'):.2f}; {dt:.0f} s (load before {before})"
            )
            for e in report.events:
                if e.trigger == "policy":
                    print(f"    {e.day} policy: {e.reason}")
            rows.append((key, schedule, report.days, report.retrains, t, dt))
            sessions.kw["bind"].dispose()

    def fmt(value: Any, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    print(
        "\n| series | schedule | days | retrains | live MAE | naive MAE | live MASE | coverage | wall s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for key, schedule, days, retrains, t, dt in rows:
        print(
            f"| {key} | {schedule} | {days} | {retrains} | {fmt(t.get('mae'), '.4f')} | "
            f"{fmt(t.get('naive_mae'), '.4f')} | {fmt(t.get('mase'), '.3f')} | "
            f"{fmt(t.get('coverage'), '.3f')} | {dt:.0f} |"
        )
    print(
        "\ntarget: the policy's live error no worse than the weekly schedule's, with fewer retrains"
    )
    for key in args.keys:
        got = {r[1]: r for r in rows if r[0] == key}
        if "policy" not in got or "weekly" not in got:
            continue
        pol, wk = got["policy"], got["weekly"]
        mae_p, mae_w = pol[4].get("mae"), wk[4].get("mae")
        ok_err = mae_p is not None and mae_w is not None and mae_p <= mae_w
        print(
            f"  {key}: policy MAE {fmt(mae_p, '.4f')} vs weekly {fmt(mae_w, '.4f')} "
            f"({'no worse' if ok_err else 'WORSE'}), {pol[3]} vs {wk[3]} retrains "
            f"({'fewer' if pol[3] < wk[3] else 'NOT fewer'})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="what", required=True)
    for name in ("scoring", "route"):
        p = sub.add_parser(name)
        p.add_argument("--series", type=int, default=200)
        p.add_argument("--origins", type=int, default=250)
        p.add_argument("--horizon", type=int, default=10)
        if name == "scoring":
            p.add_argument("--no-postgres", action="store_true")
        else:
            p.add_argument("--duration", type=float, default=20.0)
            p.add_argument("--concurrency", type=int, default=32)
    r = sub.add_parser("replay")
    r.add_argument("--years", type=int, default=0, help="replay the last YEARS (over --days)")
    r.add_argument("--days", type=int, default=60)
    r.add_argument("--keys", nargs="+", default=["AAPL", "IBM", "seattle-weather"])
    args = parser.parse_args()
    {"scoring": bench_scoring, "route": bench_route, "replay": bench_replay}[args.what](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
