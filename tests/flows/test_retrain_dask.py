"""The retrain flow fanned out on a real distributed.LocalCluster (worker processes) through
Prefect's Dask task runner: the database URL travels, results and failures come back as with
threads, and the champion rule holds."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml
from distributed import Client
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from sqlalchemy.orm import Session, sessionmaker

from flows import runners
from flows.retrain import retrain
from forecaster.app import catalog
from forecaster.config import Settings
from forecaster.db import observations as observations_db
from forecaster.db import runs as runs_db
from forecaster.db import series as series_db
from tests.conftest import REPO_DATA
from tests.pg import free_port

pytestmark = pytest.mark.usefixtures("prefect_harness")

REPO = Path(__file__).resolve().parents[2]
STATIONS = ("auckland", "beijing", "chicago")  # real daily weather, 2016-2017


def _station(name: str) -> pd.DataFrame:
    frame = pd.read_csv(REPO_DATA / "weather" / f"{name}_daily.csv", parse_dates=["time"])
    frame = frame.set_index("time").rename_axis("ts")[["tmax", "tmin"]].astype("float64")
    return frame.iloc[-400:]  # the last 13 months: enough to learn, quick to score


@pytest.fixture
def stations(session_factory: sessionmaker[Session]) -> dict[str, int]:
    ids = {}
    with session_factory.begin() as session:
        for name in STATIONS:
            series = series_db.register_series(
                session=session, key=name, source="csv", params={}, frequency="D"
            )
            observations_db.upsert_observations(
                session=session, series_id=series.id, frame=_station(name)
            )
            ids[name] = series.id
    return ids


async def _task_runs(flow_run_id: str) -> list[tuple[str, str]]:
    async with get_client() as client:
        runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    return sorted((r.name, r.state.type.value if r.state else "") for r in runs)


def _config(tmp_path: Path) -> Path:
    """Tiny GRUs, one candidate per station; beijing's fails inside its worker."""
    config = tmp_path / "dask.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "backtest_origins": 20,
                "defaults": {
                    "lookback": 28,
                    "horizon": 7,
                    "hidden_size": 8,
                    "num_layers": 1,
                    "epochs": 4,
                    "batch_size": 64,
                    "targets": ["tmax"],
                },  # fmt: skip
                # a real failure inside a worker (a monkeypatch would not reach its process)
                "by_series": {"beijing": {"lookback": 5000}},
                "candidates": [{"architecture": "gru", "strategy": "direct"}],
            }
        )
    )
    return config


@pytest.mark.parametrize(
    ("per_worker", "tasks"),
    [
        (4, [f"train-{name}-gru-direct" for name in sorted(STATIONS)]),  # a task per candidate
        (1, ["train-1-candidates", "train-2-candidates"]),  # 3 candidates in chunks of 2
    ],
)
def test_retrain_on_a_local_dask_cluster_of_processes(
    per_worker: int,
    tasks: list[str],
    tmp_path: Path,
    database_url: str,
    session_factory: sessionmaker[Session],
    stations: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _config(tmp_path)
    monkeypatch.setenv("FORECASTER_TASK_RUNNER", "dask")  # read when the flow runs
    monkeypatch.setenv("FORECASTER_RETRAIN_WORKERS", "2")
    monkeypatch.setattr(runners, "CHUNKS_PER_WORKER", per_worker)  # read in this process
    out = retrain(
        series=list(STATIONS), database_url=database_url, config_path=str(config)
    ).to_json()

    by_series = {c["series"]: c for c in out["candidates"]}
    assert set(by_series) == set(STATIONS)
    for c in out["candidates"]:  # every candidate trained in a worker process, not this one
        assert c["executor"]["dask_worker"] is not None
        assert c["executor"]["pid"] != os.getpid()
        assert c["executor"]["torch_threads"] == max(1, runners.cores() // 2)
    failed = by_series["beijing"]
    assert failed["failed"] and out["failed"] == [failed["version_id"]]
    with session_factory.begin() as session:
        run = runs_db.get_run(session=session, run_id=out["run_id"])
        assert run.status == "failed"
        assert run.error == (
            "beijing gru/direct: InvalidData: lookback=5000 is longer than the history "
            "(400 rows); use a shorter lookback or provide more data"
        )
        version = catalog.get_version(session=session, version_id=failed["version_id"])
        assert (version.status, version.weights) == ("failed", None)
        assert catalog.find_champion(
            session=session, series_id=stations["beijing"], strategy="direct"
        ) is None  # fmt: skip
        for name in ("auckland", "chicago"):
            c = by_series[name]
            assert not c["failed"] and c["device"] == "cpu"
            champion = catalog.get_champion(
                session=session, series_id=stations[name], strategy="direct"
            )
            # the same rule as with threads: the candidate serves if it beat the baselines
            assert champion.id == (c["version_id"] if c["promoted"] else c["served_id"])
            if c["promoted"]:
                assert c["candidate_score"] < c["baseline_score"]
            trained = catalog.get_version(session=session, version_id=c["version_id"])
            fit = trained.feature_spec["fit"]
            assert fit["device"] == "cpu"
            assert fit["train_losses"][-1] < fit["train_losses"][0]  # it learned
        flow_run_id = run.flow_run_id
    assert flow_run_id
    task_runs = asyncio.run(_task_runs(flow_run_id))
    trained = [(n, s) for n, s in task_runs if n.startswith("train-")]
    assert trained == [(name, "COMPLETED") for name in sorted(tasks)]


@pytest.fixture(scope="module")
def dask_cli_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A scheduler and two one-thread workers as separate processes on loopback, started by the
    commands compose runs (`dask scheduler`, `dask worker ADDRESS --nthreads 1 --no-dashboard`)
    with no FORECASTER_* setting: each worker knows only its own cores."""
    address = f"tcp://127.0.0.1:{free_port()}"
    logs = tmp_path_factory.mktemp("dask")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORECASTER_")}
    env["PYTHONPATH"] = str(REPO)  # the image installs the package; here the checkout
    dask = [sys.executable, "-m", "dask"]
    port = address.rsplit(":", 1)[1]
    worker = [*dask, "worker", address, "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"]
    commands = [
        # its HTTP server (/health, /metrics) would take the machine's 8787 without the last flag
        [*dask, "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"]
        + ["--dashboard-address", "127.0.0.1:0"],
        worker,
        worker,
    ]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i, command in enumerate(commands):
            with (logs / f"{i}.log").open("wb") as log:
                procs.append(subprocess.Popen(command, env=env, cwd=logs, stdout=log, stderr=log))
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_the_task_split_is_read_from_the_clusters_workers(
    dask_cli_cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compose leaves FORECASTER_RETRAIN_WORKERS at 1 whatever `--scale dask-worker=N` says:
    the flow run asks the scheduler instead (2 one-thread workers: 8 tasks, not 4)."""
    monkeypatch.setenv("FORECASTER_DASK_ADDRESS", dask_cli_cluster)  # read when the flow runs
    monkeypatch.setenv("FORECASTER_RETRAIN_WORKERS", "1")

    @flow(task_runner=runners.FromSettings())
    def split() -> tuple[int, int]:
        return runners.worker_slots(Settings()), runners.chunk_size(Settings(), 16)

    assert split() == (2, 2)  # 16 candidates in 8 tasks of 2


@pytest.mark.usefixtures("stations")
def test_retrain_on_a_scheduler_and_worker_processes_started_by_the_cli(
    dask_cli_cluster: str,
    tmp_path: Path,
    database_url: str,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The compose topology's retrain: tasks split for the workers the scheduler has, torch in
    each worker on that worker's cores (no FORECASTER_TORCH_THREADS anywhere)."""
    monkeypatch.setenv("FORECASTER_DASK_ADDRESS", dask_cli_cluster)
    monkeypatch.setenv("FORECASTER_RETRAIN_WORKERS", "1")  # as compose leaves it
    monkeypatch.delenv("FORECASTER_TORCH_THREADS", raising=False)
    monkeypatch.setattr(runners, "CHUNKS_PER_WORKER", 1)  # 2 workers: 2 tasks for 3 candidates
    out = retrain(
        series=list(STATIONS), database_url=database_url, config_path=str(_config(tmp_path))
    ).to_json()

    with Client(dask_cli_cluster, timeout=30) as client:
        workers = set(client.nthreads())
    by_series = {c["series"]: c for c in out["candidates"]}
    assert set(by_series) == set(STATIONS)
    assert by_series["beijing"]["failed"]
    assert not by_series["auckland"]["failed"] and not by_series["chicago"]["failed"]
    for c in out["candidates"]:
        assert c["executor"]["dask_worker"] in workers
        assert c["executor"]["pid"] != os.getpid()
        # each worker's share of its cores: one task at a time, so all of them
        assert c["executor"]["torch_threads"] == runners.cores()
    with session_factory.begin() as session:
        flow_run_id = runs_db.get_run(session=session, run_id=out["run_id"]).flow_run_id
    assert flow_run_id
    trained = [n for n, _ in asyncio.run(_task_runs(flow_run_id)) if n.startswith("train-")]
    assert trained == ["train-1-candidates", "train-2-candidates"]  # not one task of 3
