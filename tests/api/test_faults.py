"""Faults with real processes: kill -9 mid-retrain (a CLI run and the API's worker), racing
promotions, concurrent migrations and ingests, a data revision, a lost Prefect server.

Every run ends with a status, nothing is half-written, and a stale run never blocks a series.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.app import runs
from forecaster.app.forecasts import forecast_series
from forecaster.app.model_cache import ModelCache
from forecaster.app.training import precompute_forecasts
from forecaster.app.versions import promote as promote_version
from forecaster.config import Settings
from forecaster.db import observations as observations_db
from forecaster.db import runs as runs_db
from forecaster.db import series as series_db
from forecaster.db.models import ForecastPoint, ModelVersion, Observation, Run
from forecaster.db.session import make_session_factory
from tests.api.conftest import AUTH, TestClient, start_api_server, store_sample
from tests.conftest import REPO_DATA
from tests.pg import free_port

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "forecaster")

# Slow enough to be killed part-way (hundreds of epochs, no early stop), tiny enough for 2 cores.
SLOW_YAML = """
metric: mase
backtest_origins: 10
defaults: {lookback: 14, horizon: 5, targets: [tmax], hidden_size: 48, num_layers: 2,
           epochs: 2000, patience: 100000, batch_size: 8, time_budget_s: 600}
candidates:
  - {architecture: gru, strategy: recursive}
  - {architecture: gru, strategy: direct}
"""

LEASE_ENV = {
    "FORECASTER_RUN_HEARTBEAT_S": "0.5",
    "FORECASTER_RUN_STALE_S": "3",
    "FORECASTER_TORCH_THREADS": "1",
}


def _env(database_url: str, **extra: str) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    return {
        **os.environ,
        **LEASE_ENV,
        "FORECASTER_DATABASE_URL": database_url,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PREFECT_LOGGING_LEVEL": "WARNING",
        **extra,
    }


def _served(factory: sessionmaker[Session]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """What is served: the champions, and every precomputed forecast point."""
    with factory() as session:
        champions = session.execute(
            select(ModelVersion.id, ModelVersion.series_id, ModelVersion.strategy)
            .where(ModelVersion.status == "champion")
            .order_by(ModelVersion.id)
        ).all()
        points = session.execute(
            select(
                ForecastPoint.model_version_id,
                ForecastPoint.step,
                ForecastPoint.variable,
                ForecastPoint.value,
                ForecastPoint.data_revision,
            ).order_by(ForecastPoint.model_version_id, ForecastPoint.step, ForecastPoint.variable)
        ).all()
    return [tuple(r) for r in champions], [tuple(r) for r in points]


def _wait_running(factory: sessionmaker[Session], timeout: float = 90) -> Run:
    """The first retrain run once it is running with a renewed lease (training under way)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with factory() as session:
            run = session.scalars(select(Run).where(Run.kind == "retrain")).first()
            if (
                run is not None
                and run.status == "running"
                and run.heartbeat_at is not None
                and run.started_at is not None
                and (run.heartbeat_at - run.started_at).total_seconds() >= 1.0
            ):
                return run
        time.sleep(0.2)
    raise AssertionError(f"no retrain run was running with a lease within {timeout} s")


def _wait_ended(factory: sessionmaker[Session], run_id: int, timeout: float) -> Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with factory() as session:
            run = session.get(Run, run_id)
            assert run is not None
            if run.status not in ("pending", "running"):
                return run
        time.sleep(0.25)
    raise AssertionError(f"run {run_id} did not end within {timeout} s")


@pytest.fixture
def prepared(
    session_factory: sessionmaker[Session],
    trained: dict[str, int],
    tmp_path: Path,
) -> dict[str, Any]:
    """Champions with precomputed forecasts, and a slow retrain config."""
    for key in ("seattle-weather", "IBM"):
        with session_factory.begin() as session:
            precompute_forecasts(session=session, series_key=key)
    config = tmp_path / "slow.yaml"
    config.write_text(SLOW_YAML)
    return {"config": str(config), "ids": trained}


@pytest.mark.usefixtures("prefect_harness")
def test_kill_9_of_a_cli_retrain_ends_the_run_and_serves_what_was_served(
    database_url: str,
    session_factory: sessionmaker[Session],
    prepared: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = _served(session_factory)
    proc = subprocess.Popen(
        [CLI, "retrain", "seattle-weather", "--config", prepared["config"]],
        cwd=ROOT,
        env=_env(database_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        run = _wait_running(session_factory)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with session_factory() as session:
        assert session.get(Run, run.id).status == "running"  # type: ignore[union-attr]

    # The API refuses nothing for ever: once the lease lapses (3 s here) the run is failed with
    # the reason, and a new retrain of the series is accepted.
    for name, value in LEASE_ENV.items():
        monkeypatch.setenv(name, value)
    time.sleep(3.5)
    settings = Settings(database_url=database_url, api_key="test")  # type: ignore[arg-type]
    from api.main import create_app

    with TestClient(create_app(settings)) as client:
        ended = client.get(f"/api/v1/runs/{run.id}").json()
        assert ended["status"] == "failed"
        assert "killed or crashed" in ended["error"]  # by pid at start-up, or by its lease
        # nothing of the killed run is served: same champions, same precomputed forecasts
        assert _served(session_factory) == before
        r = client.post(
            "/api/v1/runs", json={"kind": "retrain", "series": ["seattle-weather"]}, headers=AUTH
        )
        assert r.status_code == 202, r.text
        cancelled = client.post(f"/api/v1/runs/{r.json()['id']}/cancel", headers=AUTH)
        assert cancelled.status_code == 202, cancelled.text
        final = _wait_ended(session_factory, r.json()["id"], timeout=120)
        assert final.status == "cancelled"
    assert _served(session_factory) == before  # a cancelled run promotes nothing


@pytest.fixture
def api_server(
    database_url: str,
    prepared: dict[str, Any],
    tmp_path: Path,
    prefect_harness: None,  # noqa: ARG001 - flows report to it
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    log = tmp_path / "server.log"
    env = _env(
        database_url, FORECASTER_API_KEY="test", FORECASTER_RETRAIN_CONFIG=prepared["config"]
    )
    proc, base = start_api_server(env, log)
    try:
        yield base, proc, log
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


def test_kill_9_of_the_worker_mid_retrain(
    session_factory: sessionmaker[Session],
    api_server: tuple[str, subprocess.Popen[bytes], Path],
) -> None:
    base, proc, _log = api_server
    before = _served(session_factory)
    r = httpx.post(
        f"{base}/api/v1/runs",
        json={"kind": "retrain", "series": ["seattle-weather"]},
        headers=AUTH,
    )
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    _wait_running(session_factory)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    # No process is left to end it: the lease lapses and the reaper (here, as in the next API
    # process's periodic reaper) fails it with the reason.
    time.sleep(3.5)
    with session_factory.begin() as session:
        assert run_id in runs.reap(session=session, policy=runs.LeasePolicy(0.5, 3.0))
    with session_factory() as session:
        run = session.get(Run, run_id)
        assert run is not None and run.status == "failed"
        assert run.error is not None and "killed or crashed" in run.error
    assert _served(session_factory) == before
    with session_factory.begin() as session:  # the series take a new retrain at once
        runs.claim(
            session=session,
            kind="retrain",
            series=["seattle-weather"],
            parameters={"series": ["seattle-weather"]},
            policy=runs.LeasePolicy(),
            exclusive=True,
        )


@pytest.mark.usefixtures("trained")
def test_pending_run_with_no_worker_times_out_and_cancel_ends_a_pending_run(
    session_factory: sessionmaker[Session],
) -> None:
    policy = runs.LeasePolicy(heartbeat_s=0.5, stale_s=3, pending_s=1)
    with session_factory.begin() as session:
        waiting = runs.claim(
            session=session,
            kind="retrain",
            series=["IBM"],
            parameters={"series": ["IBM"]},
            policy=policy,
            exclusive=True,
        ).id
        other = runs.claim(
            session=session,
            kind="ingest",
            series=["IBM"],
            parameters={"series": ["IBM"]},
            policy=policy,
            exclusive=False,
        ).id
    with session_factory.begin() as session:
        runs.request_cancel(session=session, run_id=other)
    time.sleep(1.2)
    with session_factory.begin() as session:
        assert runs.reap(session=session, policy=policy) == [waiting]
    with session_factory() as session:
        run = session.get(Run, waiting)
        assert run is not None and run.status == "failed"
        assert run.error is not None and run.error.startswith("no worker picked it up within 1 s")
        cancelled = session.get(Run, other)
        assert cancelled is not None and cancelled.status == "cancelled"


def test_run_caps_answer_429_with_the_limit(
    session_factory: sessionmaker[Session], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_sample(session_factory, key="IBM", rows=10)
    monkeypatch.setenv("FORECASTER_MAX_RUNS_PER_SERIES", "2")
    with session_factory.begin() as session:
        for _ in range(2):
            runs_db.create_run(session=session, kind="ingest", parameters={"series": ["IBM"]})
    from api.main import create_app

    with TestClient(create_app(settings)) as client:
        r = client.post("/api/v1/runs", json={"kind": "ingest", "series": ["IBM"]}, headers=AUTH)
        assert r.status_code == 429
        assert "FORECASTER_MAX_RUNS_PER_SERIES=2" in r.json()["detail"]
        assert client.get("/api/v1/runs").json()["count"] == 2  # nothing was created


def test_two_concurrent_promotions_leave_one_champion(
    session_factory: sessionmaker[Session], database_url: str, trained: dict[str, int]
) -> None:
    """Ten rounds of two promotions of the same series and strategy at the same moment."""
    with session_factory() as session:
        weather = series_db.get_series(session=session, key="seattle-weather").id
    with session_factory.begin() as session:
        base = session.get(ModelVersion, trained["gru-recursive"])
        assert base is not None
        versions = []
        for _ in range(2):
            copy = ModelVersion(
                series_id=weather,
                architecture=base.architecture,
                strategy=base.strategy,
                hyperparameters=base.hyperparameters,
                feature_spec=base.feature_spec,
                normalization=base.normalization,
                weights=base.weights,
                status="candidate",
            )
            session.add(copy)
            session.flush()
            versions.append(copy.id)
    factories = [make_session_factory(database_url) for _ in range(2)]  # two connections
    for _ in range(10):
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def promote(i: int, barrier: threading.Barrier, errors: list[BaseException]) -> None:
            barrier.wait()
            try:
                with factories[i].begin() as session:
                    promote_version(session=session, version_id=versions[i])
            except BaseException as exc:  # noqa: BLE001 - collected and checked below
                errors.append(exc)

        threads = [threading.Thread(target=promote, args=(i, barrier, errors)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors  # serialized by the series lock: both succeed, one after other
        with session_factory() as session:
            champions = session.scalars(
                select(ModelVersion.id).where(
                    ModelVersion.series_id == weather,
                    ModelVersion.strategy == "recursive",
                    ModelVersion.status == "champion",
                )
            ).all()
        assert len(champions) == 1 and champions[0] in versions
    for f in factories:
        f.kw["bind"].dispose()


@pytest.mark.postgres
def test_concurrent_db_upgrades_on_a_fresh_postgresql(pg_cluster: Any) -> None:
    from tests.conftest import _new_pg_database

    if pg_cluster is None:
        pytest.skip("PostgreSQL not available")
    for _ in range(3):
        url = _new_pg_database(pg_cluster)
        procs = [
            subprocess.Popen(
                [CLI, "--database-url", url, "db", "upgrade"],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for _ in range(3)
        ]
        outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], outputs
        factory = make_session_factory(url)
        with factory() as session:
            assert session.execute(select(func.count()).select_from(Run)).scalar() == 0
        factory.kw["bind"].dispose()


def test_concurrent_ingests_of_the_same_file(
    database_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    csv = tmp_path / "chicago.csv"
    csv.write_bytes((REPO_DATA / "weather" / "chicago_daily.csv").read_bytes())
    days = len(pd.read_csv(csv))
    cells: int | None = None
    env = {**os.environ, "FORECASTER_DATABASE_URL": database_url}
    for round_ in range(2):  # the first pair creates the series, the second re-ingests it
        procs = [
            subprocess.Popen(
                [CLI, "ingest", "csv", str(csv), "--key", "chicago"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=180)[0].decode() for p in procs]
        assert [p.returncode for p in procs] == [0, 0], (round_, outputs)
        with session_factory() as session:
            series = series_db.get_series(session=session, key="chicago")
            stored = session.scalar(
                select(func.count())
                .select_from(Observation)
                .where(Observation.series_id == series.id)
            )
            variables = series_db.series_variables(session=session, series_id=series.id)
            distinct = session.scalar(
                select(func.count(func.distinct(Observation.ts))).where(
                    Observation.series_id == series.id
                )
            )
        # every day once, every stored variable on every day: nothing lost or duplicated
        assert distinct == days and stored == days * len(variables) and len(variables) >= 5
        assert cells is None or stored == cells  # the re-ingest changed nothing
        cells = stored


@pytest.mark.usefixtures("trained")
def test_every_horizon_follows_a_revision_of_the_data(
    session_factory: sessionmaker[Session],
) -> None:
    """Revise the last three days: the precomputed (default-horizon) forecast and every other
    horizon answer from the new values."""
    cache = ModelCache()
    with session_factory.begin() as session:
        precompute_forecasts(session=session, series_key="seattle-weather")
    with session_factory() as session:
        old = forecast_series(
            session=session, series_key="seattle-weather", strategy="recursive", cache=cache
        )
        revision = series_db.get_series(session=session, key="seattle-weather").revision
    with session_factory.begin() as session:  # the same values again: nothing changes
        series = series_db.get_series(session=session, key="seattle-weather")
        frame = observations_db.read_frame(session=session, series_id=series.id).iloc[-3:].copy()
        observations_db.upsert_observations(session=session, series_id=series.id, frame=frame)
    with session_factory() as session:
        assert series_db.get_series(session=session, key="seattle-weather").revision == revision
    frame[["tmax", "tmin"]] += 8.0  # the source revised its last three days
    with session_factory.begin() as session:
        series = series_db.get_series(session=session, key="seattle-weather")
        observations_db.upsert_observations(session=session, series_id=series.id, frame=frame)
    with session_factory() as session:
        assert series_db.get_series(session=session, key="seattle-weather").revision == revision + 1
        default = forecast_series(
            session=session, series_key="seattle-weather", strategy="recursive", cache=cache
        )
        short = forecast_series(
            session=session,
            series_key="seattle-weather",
            strategy="recursive",
            horizon=3,
            cache=cache,
        )
    assert not default.points["value"].equals(old.points["value"])
    first = default.points[default.points["step"] <= 3].reset_index(drop=True)
    pd.testing.assert_series_equal(first["value"], short.points["value"].reset_index(drop=True))


def test_prefect_server_down_at_post_is_a_503_and_creates_no_run(
    database_url: str, session_factory: sessionmaker[Session]
) -> None:
    store_sample(session_factory, key="IBM", rows=10)
    down = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    settings = Settings(
        database_url=database_url,
        api_key="test",  # type: ignore[arg-type]
        prefect_api_url=down,
    )
    from api.main import create_app

    with TestClient(create_app(settings)) as client:
        r = client.post("/api/v1/runs", json={"kind": "retrain", "series": ["IBM"]}, headers=AUTH)
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"]  # a state, with when to try again
        detail = r.json()["detail"]
        assert "the Prefect server that runs flows is unavailable" in detail
        assert "no run was created" in detail and down not in detail
        # no row for a run that could not start (no failed noise), nothing half-written: the
        # series takes the next retrain once the server is back
        assert client.get("/api/v1/runs").json()["data"] == []
        with session_factory() as session:
            assert not list(runs_db.active_runs(session=session, kind="retrain"))
