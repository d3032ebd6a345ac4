"""API fixtures: the real app on a migrated SQLite or PostgreSQL database, through TestClient."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from forecaster.app.versions import promote
from forecaster.backtest import EvaluationReport
from forecaster.config import Settings
from forecaster.db import observations as observations_db
from forecaster.db import series as series_db
from forecaster.db.versions import add_evaluation, save_version
from forecaster.forecasting.train import TrainOutcome, evaluate_model, train_model
from forecaster.sources.csv import load_sample
from forecaster.spec import ModelSpec

with warnings.catch_warnings():
    # Starlette 1.x would rather drive its TestClient with httpx2; httpx (which Prefect needs
    # too) still works and is what this project installs.
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

AUTH = {"X-API-Key": "test"}


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, api_key=SecretStr("test"))


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def store_sample(
    factory: sessionmaker[Session], key: str = "seattle-weather", rows: int = 120
) -> pd.DataFrame:
    """Register a bundled sample as a csv series and store its first `rows` rows directly."""
    sample = {"seattle-weather": "seattle_daily.csv", "IBM": "IBM.csv", "AAPL": "AAPL.csv"}
    frame = load_sample(key).iloc[:rows]
    with factory.begin() as session:
        series = series_db.register_series(
            session=session,
            key=key,
            source="csv",
            params={"sample": sample[key]},
            frequency="D" if key == "seattle-weather" else "B",
        )
        observations_db.upsert_observations(session=session, series_id=series.id, frame=frame)
    return frame


def start_api_server(
    env: dict[str, str], log: Path, timeout: float = 60, log_level: str = "warning"
) -> tuple[Any, str]:
    """The app under uvicorn in a subprocess on a free loopback port, once /health answers 200.

    Returns the process and its base URL; output goes to `log`. The caller stops the process.
    """
    import subprocess
    import sys

    import httpx

    from tests.pg import free_port

    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app"]
            + ["--host", "127.0.0.1", "--port", str(port), "--log-level", log_level],
            cwd=Path(__file__).resolve().parents[2],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"the server did not come up within {timeout:g} s"
        time.sleep(0.2)


def wait_for_run(client: TestClient, run_id: int, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.get(f"/api/v1/runs/{run_id}").json()
        if run["status"] in ("completed", "failed"):
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} still {run['status']} after {timeout} s")


# --- tiny trained models -----------------------------------------------------------------

SEATTLE_ROWS = 400
IBM_ROWS = 300


def tiny_spec(architecture: str, strategy: str, target: str) -> ModelSpec:
    return ModelSpec(
        architecture=architecture,
        strategy=strategy,
        lookback=14,
        horizon=5,
        targets=(target,),
        hidden_size=8,
        num_layers=1,
        epochs=2,
        batch_size=64,
    )


@dataclass(frozen=True)
class Tiny:
    series_key: str
    frame: pd.DataFrame
    outcome: TrainOutcome
    backtest: EvaluationReport


@pytest.fixture(scope="session")
def tiny_models() -> dict[str, Tiny]:
    """Trained and backtested once per test session (seconds); stored into each test's database."""
    weather = load_sample("seattle-weather").iloc[:SEATTLE_ROWS][["tmax", "tmin", "prcp", "wspd"]]
    ibm = load_sample("IBM").iloc[:IBM_ROWS][["close", "volume"]]
    jobs = {
        "gru-recursive": ("seattle-weather", weather, tiny_spec("gru", "recursive", "tmax"), "D"),
        "gru-direct": ("seattle-weather", weather, tiny_spec("gru", "direct", "tmax"), "D"),
        "seq2seq-direct": (
            "seattle-weather",
            weather,
            tiny_spec("seq2seq_attention", "direct", "tmax"),
            "D",
        ),
        "ibm-recursive": ("IBM", ibm, tiny_spec("gru", "recursive", "close"), "B"),
    }
    out = {}
    for name, (key, frame, spec, freq) in jobs.items():
        outcome = train_model(frame, spec, freq=freq, threads=1)
        backtest = evaluate_model(outcome.model, frame, origins=20)
        out[name] = Tiny(key, frame, outcome, backtest)
    return out


@pytest.fixture
def trained(session_factory: sessionmaker[Session], tiny_models: dict[str, Tiny]) -> dict[str, int]:
    """Seattle weather with a recursive and a direct GRU champion and a seq2seq candidate; IBM
    with a recursive champion. Returns version ids by name."""
    store_sample(session_factory, "seattle-weather", rows=SEATTLE_ROWS)
    store_sample(session_factory, "IBM", rows=IBM_ROWS)
    ids = {}
    with session_factory.begin() as session:
        for name, tiny in tiny_models.items():
            series = series_db.get_series(session=session, key=tiny.series_key)
            version = save_version(session=session, series_id=series.id, outcome=tiny.outcome)
            add_evaluation(session=session, version_id=version.id, report=tiny.backtest)
            version.primary_metric = "mase"
            version.primary_score = tiny.backtest.score("mase", split="backtest")
            if name != "seq2seq-direct":  # left a candidate, so tests can promote it
                promote(session=session, version_id=version.id)
            ids[name] = version.id
    return ids
