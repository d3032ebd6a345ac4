"""The retrain flow fanned out on a real distributed.LocalCluster (worker processes) through
Prefect's Dask task runner: the database URL travels, results and failures come back as with
threads, and the champion rule holds."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pandas as pd
import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from sqlalchemy.orm import Session, sessionmaker

from flows import runners
from flows.retrain import retrain
from forecaster.app import catalog
from forecaster.db import observations as observations_db
from forecaster.db import runs as runs_db
from forecaster.db import series as series_db
from tests.conftest import REPO_DATA

pytestmark = pytest.mark.usefixtures("prefect_harness")

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
        assert c["executor"]["torch_threads"] == max(1, len(os.sched_getaffinity(0)) // 2)
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
