"""Nothing outlives its run: once a retrain run has ended (reaped, failed, cancelled) its tasks
register nothing, and a run that fails before its series commit changes no champion."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from flows import leases
from flows import retrain as retrain_flow
from flows.common import outcome
from flows.dispatch import Dispatcher
from flows.retrain import retrain
from forecaster.app import catalog, runs, training
from forecaster.db import observations as observations_db
from forecaster.db import runs as runs_db
from forecaster.db import series as series_db
from forecaster.db.models import ModelVersion, Run, utcnow
from forecaster.sources.csv import load_sample

pytestmark = pytest.mark.usefixtures("prefect_harness")

TINY = {"lookback": 28, "horizon": 7, "hidden_size": 8, "num_layers": 1, "epochs": 2,
        "batch_size": 64, "targets": ["tmax"]}  # fmt: skip
REAPED = "the process running it stopped renewing its lease (test): it was killed or crashed"


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "backtest_origins": 10,
                "defaults": TINY,
                "candidates": [
                    {"architecture": "gru", "strategy": "recursive"},
                    {"architecture": "rnn", "strategy": "recursive"},
                ],
            }
        )
    )
    return str(path)


@pytest.fixture
def sea(session_factory: sessionmaker[Session]) -> int:
    frame = load_sample("seattle-weather").iloc[-500:][["tmax", "tmin"]]
    with session_factory.begin() as session:
        series = series_db.register_series(session=session, key="sea", source="csv")
        observations_db.upsert_observations(session=session, series_id=series.id, frame=frame)
        return series.id


def _reap_running(factory: sessionmaker[Session]) -> int:
    """End the running run as the reaper does when its lease lapsed (from another session)."""
    with factory.begin() as session:
        run = session.scalars(select(Run).where(Run.status == "running")).one()
        run.status, run.error, run.finished_at = "failed", REAPED, utcnow()
        return run.id


def _champions(factory: sessionmaker[Session], series_id: int) -> dict[str, int]:
    with factory.begin() as session:
        return {
            s: c.id
            for s in ("recursive", "direct")
            if (c := catalog.find_champion(session=session, series_id=series_id, strategy=s))
        }


def test_a_run_reaped_while_it_trains_registers_nothing_after(
    database_url: str,
    session_factory: sessionmaker[Session],
    sea: int,
    config: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = retrain(series=["sea"], database_url=database_url, config_path=config).to_json()
    before = _champions(session_factory, sea)
    assert first["failed"] == [] and set(before) == {"recursive"}
    real_train = training.train_model
    reaped: list[int] = []

    def train_then_lose_the_lease(frame, spec, **kw):  # type: ignore[no-untyped-def]
        outcome = real_train(frame, spec, **kw)  # the fit finished; then the lease is lost
        if not reaped:
            reaped.append(_reap_running(session_factory))
        return outcome

    monkeypatch.setattr(training, "train_model", train_then_lose_the_lease)
    state = retrain(
        series=["sea"], database_url=database_url, config_path=config, return_state=True
    )
    (run_id,) = reaped
    assert outcome(state).to_json() == {"run_id": run_id, "cancelled": True}
    assert state.is_failed() and state.message == f"run {run_id} failed: {REAPED}"  # as ours
    with session_factory.begin() as session:
        run = session.get(Run, run_id)
        assert run is not None and (run.status, run.error) == ("failed", REAPED)
        written = session.scalars(select(ModelVersion).where(ModelVersion.run_id == run_id)).all()
        # the baselines were refreshed before the run ended; no candidate was registered after
        assert all(v.weights is None and v.status != "failed" for v in written)
        assert all(v.created_at <= run.finished_at for v in written)
    assert _champions(session_factory, sea) == before


def test_a_checkpoint_on_another_process_stops_once_the_run_ended(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        run = Run(kind="retrain", status="running", parameters={"series": ["sea"]})
        session.add(run)
        session.flush()
        run_id = run.id
    leases.checkpoint(run_id, session_factory)  # running: goes on (a Dask worker's view)
    with session_factory.begin() as session:
        ended = session.get(Run, run_id)
        assert ended is not None
        ended.status, ended.error = "failed", REAPED
    with pytest.raises(leases.RunCancelled, match=f"^run {run_id} is failed$"):
        leases.checkpoint(run_id, session_factory)


def test_a_run_that_fails_before_its_series_commit_changes_no_champion(
    database_url: str,
    session_factory: sessionmaker[Session],
    sea: int,
    config: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_worker_can_run_it(*_args: Any) -> Any:
        raise RuntimeError("Error during deserialization of the task graph (simulated)")

    monkeypatch.setattr(retrain_flow, "_train", no_worker_can_run_it)
    with pytest.raises(RuntimeError, match="deserialization"):
        retrain(series=["sea"], database_url=database_url, config_path=config)
    with session_factory.begin() as session:
        run = session.scalars(select(Run)).one()
        assert run.status == "failed" and "deserialization" in (run.error or "")
    assert _champions(session_factory, sea) == {}  # the refreshed baselines serve nothing yet
    monkeypatch.undo()

    # every candidate crashing is a failed run that still commits its series: as before, the
    # better baseline serves where no champion was
    def crash(*_args: Any, **_kw: Any) -> Any:
        raise RuntimeError("CUDA out of memory (simulated)")

    monkeypatch.setattr(training, "train_model", crash)
    out = retrain(series=["sea"], database_url=database_url, config_path=config).to_json()
    assert len(out["failed"]) == 2
    champions = _champions(session_factory, sea)
    assert set(champions) == {"recursive"}
    with session_factory.begin() as session:
        champion = catalog.get_version(session=session, version_id=champions["recursive"])
        assert champion.architecture in ("naive", "seasonal_naive")
    assert out["served"][0]["version_id"] == champions["recursive"]


def test_a_cancelled_run_ends_its_prefect_flow_run_cancelled(
    database_url: str,
    session_factory: sessionmaker[Session],
    sea: int,
    config: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_train = training.train_model

    def train_then_cancel(frame, spec, **kw):  # type: ignore[no-untyped-def]
        with session_factory.begin() as session:
            run = session.scalars(select(Run).where(Run.status == "running")).one()
            runs.request_cancel(session=session, run_id=run.id)
        return real_train(frame, spec, **kw)  # its next epoch's checkpoint stops it

    monkeypatch.setattr(training, "train_model", train_then_cancel)
    state = retrain(
        series=["sea"], database_url=database_url, config_path=config, return_state=True
    )
    assert state.is_cancelled(), state
    run_id = outcome(state).run_id
    with session_factory.begin() as session:
        assert runs_db.get_run(session=session, run_id=run_id).status == "cancelled"
        assert not session.scalars(
            select(ModelVersion).where(ModelVersion.run_id == run_id, ModelVersion.weights.is_not(None))
        ).all()  # fmt: skip
    assert _champions(session_factory, sea) == {}


def test_the_reaper_marks_a_dead_runs_flow_run_crashed(
    database_url: str, session_factory: sessionmaker[Session]
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.states import Running

    with get_client(sync_client=True) as client:
        flow_run = client.create_flow_run(retrain, parameters={}, state=Running())
    stale = utcnow() - timedelta(seconds=60)
    with session_factory.begin() as session:
        run = Run(kind="retrain", status="running", parameters={"series": []},
                  flow_run_id=str(flow_run.id), started_at=stale, heartbeat_at=stale)  # fmt: skip
        session.add(run)
        session.flush()
        run_id = run.id
    dispatcher = Dispatcher(
        factory=session_factory,
        database_url=database_url,
        policy=runs.LeasePolicy(heartbeat_s=1.0, stale_s=2.0),
        schedules={"ingest": "0 0 * * *", "retrain": "0 0 * * *", "forecast": "0 0 * * *"},
    )
    assert dispatcher.reap() == [run_id]
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(flow_run.id).state
    assert state is not None and state.is_crashed()
    assert state.message is not None and "killed or crashed" in state.message


@pytest.mark.parametrize("hook", ["on_cancelled", "on_crashed"])
def test_the_state_hooks_take_the_runners_keyword_call(
    hook: str, database_url: str, session_factory: sessionmaker[Session]
) -> None:
    """Prefect's runner calls cancellation hooks as hook(flow=, flow_run=, state=); a hook with
    other parameter names failed with a TypeError and left the run row running."""
    from types import SimpleNamespace

    from flows import common

    with session_factory.begin() as session:
        run = runs.claim(
            session=session,
            kind="retrain",
            series=[],
            parameters={},
            policy=runs.LeasePolicy(),
            exclusive=True,
        )
        runs_db.start_run(session=session, run_id=run.id, flow_run_id="fr-1")
        run_id = run.id
    flow_run = SimpleNamespace(
        id="fr-1", parameters={"database_url": database_url, "run_id": run_id}
    )
    getattr(common, hook)(flow=None, flow_run=flow_run, state=SimpleNamespace(message="gone"))
    with session_factory() as session:
        ended = runs_db.get_run(session=session, run_id=run_id)
    assert ended.status == ("cancelled" if hook == "on_cancelled" else "failed")
    assert "Prefect reported the flow run" in (ended.error or "")
