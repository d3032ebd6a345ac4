"""Retrain N series: per-series candidates vs one global model, on threads vs a local Dask
cluster of 2 worker processes, through Prefect's task runners (the retrain flow's).

Series: disjoint 300-day stretches of the repository's real daily weather stations
(data/weather/*.csv, target tmax; 58 of them); past those, each further series repeats a stretch
raised in level (+0.5 degC per copy, same dates, so no member trains on another's test dates) --
derived from real data, said so in the output. Each series trains one tiny GRU direct candidate (L=28, H=7) and is scored on its own
test split; the global model trains one network across all N in one task, then each member is
calibrated and scored on the same windows in a task of its own (2 at a time, as the per-series fits).

    .venv/bin/python bench/scale.py --sizes 10 50 200

This compares the task runners inside one process. The same retrain on the production topology
(compose's services as processes: 1 and 2 Dask workers against the embedded default's threads,
and the fault timings) is bench/production.py.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

import pandas as pd  # noqa: E402
import psutil  # noqa: E402
import torch  # noqa: E402
from prefect import flow, task  # noqa: E402
from prefect.futures import wait  # noqa: E402
from prefect.task_runners import ThreadPoolTaskRunner  # noqa: E402
from prefect_dask.task_runners import DaskTaskRunner  # noqa: E402

from flows.runners import chunk_size, chunks, local_cluster_kwargs, torch_share  # noqa: E402
from flows.server import project_server  # noqa: E402
from forecaster.config import Settings  # noqa: E402
from forecaster.forecasting.train import train_model  # noqa: E402
from forecaster.global_models import MemberJob, finish_member, fit_global_model  # noqa: E402
from forecaster.spec import ModelSpec  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "weather"
ROWS = 300  # rows per series: about ten months of daily weather
SPEC = ModelSpec(
    architecture="gru", strategy="direct", lookback=28, horizon=7, hidden_size=16,
    num_layers=1, epochs=6, lr=0.005, targets=("tmax",), inputs=("tmax", "tmin"),
    dropout=0.0,  # no random draws while training: the same figures on threads and on Dask
)  # fmt: skip


def make_series(n: int) -> tuple[dict[str, pd.DataFrame], int]:
    """n frames of ROWS rows; returns them and how many are distinct stretches of real history.

    Each station's history is cut into disjoint ROWS-row stretches (different dates, so no member
    ever trains on the dates another member is tested on), taken round-robin over the stations.
    Past the distinct stretches, a further series repeats one of them raised by 0.5 degC per copy
    on the same dates: more series to train, no leak from one member's training rows into
    another's validation or test rows (an earlier version offset copies by 37 days, so a copy's
    training rows were another member's test rows)."""
    stretches: list[tuple[str, pd.DataFrame]] = []
    per_station = []
    for path in sorted(DATA.glob("*_daily.csv")):
        frame = pd.read_csv(path, parse_dates=["time"]).set_index("time").rename_axis("ts")
        frame = frame[["tmax", "tmin"]].astype("float64").dropna().asfreq("D").ffill()
        name = path.stem.removesuffix("_daily")
        # the most recent stretches first: the stations' common years lead the round-robin
        cuts = [frame.iloc[end - ROWS : end] for end in range(len(frame), ROWS - 1, -ROWS)]
        per_station.append([(f"{name}-{k}", cut) for k, cut in enumerate(cuts)])
    for k in range(max(len(p) for p in per_station)):
        stretches += [p[k] for p in per_station if k < len(p)]
    out = {}
    for i in range(n):
        name, frame = stretches[i % len(stretches)]
        copy = i // len(stretches)
        out[name if copy == 0 else f"{name}+{copy}"] = frame + 0.5 * copy
    return out, min(n, len(stretches))


@task
def fit_one(key: str, frame: pd.DataFrame, threads: int) -> dict[str, Any]:
    return _fit(key, frame, threads)


@task
def fit_many(items: list[tuple[str, pd.DataFrame]], threads: int) -> list[dict[str, Any]]:
    """Several series in one task, as the retrain flow batches candidates on a cluster."""
    return [_fit(key, frame, threads) for key, frame in items]


def _fit(key: str, frame: pd.DataFrame, threads: int) -> dict[str, Any]:
    outcome = train_model(frame, SPEC, freq="D", threads=threads, device="cpu")
    return {"key": key, "mase": outcome.report.score("mase", split="test")}


@task
def fit_global(frames: dict[str, pd.DataFrame], threads: int) -> list[MemberJob]:
    shared = fit_global_model(frames, SPEC, freq="D", threads=threads, device="cpu")
    return [shared.member_job(key) for key in shared.members]


@task
def finish_global_members(jobs: list[MemberJob], threads: int) -> list[dict[str, Any]]:
    torch.set_num_threads(threads)  # the tasks beside it share the cores
    return [
        {"key": job.key, "mase": finish_member(job).report.score("mase", split="test")}
        for job in jobs
    ]


_FRAMES: dict[int, dict[str, pd.DataFrame]] = {}  # the flow's series, by N (not flow params)


@flow(name="scale")
def cell(n: int, mode: str, threads: int, kind: str) -> list[dict[str, Any]]:
    frames = _FRAMES[n]
    if mode == "global":  # the shared fit on all the cores, then its members finished 2 at a time
        jobs = fit_global.submit(frames, threads).result()
        finish = torch_share(workers=2)
        size = chunk_size(Settings(task_runner=kind, retrain_workers=2), len(jobs))
        parts = [finish_global_members.submit(c, finish) for c in chunks(jobs, size)]
        wait(parts)
        return [r for p in parts for r in p.result()]
    # candidates per task as the retrain flow sets them (flows.runners.chunk_size): one on
    # threads, about four tasks per worker on a cluster
    size = chunk_size(Settings(task_runner=kind, retrain_workers=2), len(frames))
    if size == 1:
        futures = [fit_one.submit(k, f, threads) for k, f in frames.items()]
        wait(futures)
        return [f.result() for f in futures]
    batches = [fit_many.submit(b, threads) for b in chunks(list(frames.items()), size)]
    wait(batches)
    return [r for b in batches for r in b.result()]


def runner(kind: str) -> Any:
    if kind == "threads":
        return ThreadPoolTaskRunner(max_workers=2)
    return DaskTaskRunner(cluster_kwargs=local_cluster_kwargs(2))


class PeakRSS:
    """Peak resident memory of this process and its children (Dask workers), sampled."""

    def __init__(self) -> None:
        self.peak, self._stop = 0, threading.Event()

    def _loop(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.2):
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)

    def __enter__(self) -> PeakRSS:
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--modes", nargs="+", default=["per-series", "global"])
    parser.add_argument("--runners", nargs="+", default=["threads", "dask"])
    args = parser.parse_args()
    logging.getLogger("distributed").setLevel(logging.WARNING)
    # One Prefect server for the whole benchmark, named in PREFECT_API_URL before any cluster
    # starts: the Dask workers inherit it (as they do the project's server in the retrain flow);
    # without it every worker process would start a temporary server of its own.
    with tempfile.TemporaryDirectory(prefix="forecaster-scale-") as tmp, project_server(Path(tmp)):
        run(args)


def run(args: argparse.Namespace) -> None:
    rows = []
    for n in args.sizes:
        frames, real = make_series(n)
        for kind in args.runners:
            for mode in args.modes:
                # one flow per cell: the cluster's start-up is part of the Dask path's cost
                threads = torch_share(workers=1 if mode == "global" else 2)
                _FRAMES[n] = frames
                load = os.getloadavg()[0]
                with PeakRSS() as mem:
                    t0 = time.perf_counter()
                    out = cell.with_options(task_runner=runner(kind))(n, mode, threads, kind)
                    wall = time.perf_counter() - t0
                mase = statistics.median(r["mase"] for r in out)
                rows.append((n, real, kind, mode, wall, mem.peak, mase, load))
                print(
                    f"N={n:<4} ({real} real stretches, {n - real} level copies) {kind:<7} {mode:<10} "
                    f"wall {wall:7.1f} s  {60 * n / wall:6.1f} series/min  peak RSS "
                    f"{mem.peak / 2**20:6.0f} MiB  median MASE {mase:.3f}  load {load:.1f}",
                    flush=True,
                )
    print("\n| N | runner | model | wall s | series/min | peak RSS MiB | median MASE | load |")
    print("|---|---|---|---|---|---|---|---|")
    for n, _, kind, mode, wall, peak, mase, load in rows:
        print(f"| {n} | {kind} | {mode} | {wall:.1f} | {60 * n / wall:.1f} | "
              f"{peak / 2**20:.0f} | {mase:.3f} | {load:.1f} |")  # fmt: skip
    print("\ncost growth (seconds per added series, between consecutive N):")
    for kind in args.runners:
        for mode in args.modes:
            cells = sorted((r[0], r[4]) for r in rows if r[2] == kind and r[3] == mode)
            steps = [
                f"{a}->{b}: {(tb - ta) / (b - a):.2f}"
                for (a, ta), (b, tb) in zip(cells, cells[1:], strict=False)
            ]
            print(f"  {kind:<7} {mode:<10} " + (", ".join(steps) or "(one N only)"))


if __name__ == "__main__":
    main()
