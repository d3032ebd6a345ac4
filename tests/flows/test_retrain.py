"""The retrain and forecast flows as real Prefect flows: champions change only for the better."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy.orm import Session, sessionmaker

from flows.forecast import ForecastResult, forecast
from flows.retrain import retrain
from forecaster.app import catalog, training
from forecaster.db import observations as observations_db
from forecaster.db import runs as runs_db
from forecaster.db import series as series_db
from forecaster.db.forecast_cache import read_forecast
from forecaster.retrain_plan import RetrainResult
from forecaster.sources.csv import load_sample

pytestmark = pytest.mark.usefixtures("prefect_harness")

TINY = {
    "lookback": 28,
    "horizon": 7,
    "hidden_size": 8,
    "num_layers": 1,
    "epochs": 3,
    "batch_size": 64,
}


def _config(tmp_path: Path, name: str, candidates: list[dict], **defaults: object) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        yaml.safe_dump(
            {"backtest_origins": 20, "defaults": {**TINY, **defaults}, "candidates": candidates}
        )
    )
    return str(path)


@pytest.fixture
def weather(session_factory: sessionmaker[Session]) -> int:
    frame = load_sample("seattle-weather")[["tmax", "tmin"]]
    with session_factory.begin() as session:
        sid = series_db.register_series(
            session=session, key="sea", source="csv", params={"sample": "seattle-weather"}
        )
        observations_db.upsert_observations(session=session, series_id=sid.id, frame=frame)
        return sid.id


def _statuses(factory: sessionmaker[Session], series_id: int) -> dict[int, str]:
    with factory.begin() as session:
        return {v.id: v.status for v in catalog.list_versions(session=session, series_id=series_id)}


def test_retrain_registers_baselines_serves_the_winners_and_caches_their_forecasts(
    tmp_path: Path, database_url: str, session_factory: sessionmaker[Session], weather: int
) -> None:
    config = _config(
        tmp_path,
        "c",
        [
            {"architecture": "gru", "strategy": "recursive"},
            {"architecture": "lstm", "strategy": "direct"},
        ],
    )
    result = retrain(series=["sea"], database_url=database_url, config_path=config)
    assert isinstance(result, RetrainResult) and result.error is None
    out = result.to_json()  # what the CLI prints from
    assert len(out["versions"]) == 2 and out["failed"] == []
    assert set(out["forecasts"]["sea"]) == {"recursive", "direct"}
    served = {s["strategy"]: s for s in out["served"]}
    assert set(served) == {"recursive", "direct"}
    with session_factory.begin() as session:
        run = runs_db.get_run(session=session, run_id=out["run_id"])
        assert (run.kind, run.status, run.error) == ("retrain", "completed", None)
        assert run.result == result.record() == {k: v for k, v in out.items() if k != "run_id"}
        versions = catalog.list_versions(session=session, series_id=weather)
        baselines = sorted((v.strategy, v.architecture) for v in versions if v.weights is None)
        assert baselines == [  # registered by the flow for each strategy it retrained
            ("direct", "naive"),
            ("direct", "seasonal_naive"),
            ("recursive", "naive"),
            ("recursive", "seasonal_naive"),
        ]
        for candidate in out["candidates"]:
            champion = catalog.get_champion(
                session=session, series_id=weather, strategy=candidate["strategy"]
            )
            assert served[candidate["strategy"]]["version_id"] == champion.id
            if candidate["promoted"]:  # it beat the baselines: it serves
                assert champion.id == candidate["version_id"] and "beats" in candidate["reason"]
            else:  # it did not: the better baseline serves
                assert champion.architecture == candidate["baseline"]
                assert served[candidate["strategy"]]["baseline"] is True
                assert "no skill" in candidate["reason"]
            assert champion.run_id == out["run_id"]
            cached = read_forecast(
                session=session,
                version_id=champion.id,
                issued_at=observations_db.latest_timestamp(session=session, series_id=weather),
                data_revision=series_db.get_series(session=session, key="sea").revision,
            )
            assert cached is not None and list(cached.points["step"].unique()) == list(range(1, 8))
    # the weather's recursive GRU has skill (tests/forecaster/test_champion.py has the rule)
    assert out["candidates"][0]["promoted"]
    again = forecast(series=["sea"], database_url=database_url)
    assert isinstance(again, ForecastResult) and again.policy_retrains == ()  # no evidence yet
    assert again.forecasts["sea"] == out["forecasts"]["sea"]
    # a second run on the same data keeps the same baseline versions
    second = retrain(series=["sea"], database_url=database_url, config_path=config).to_json()
    with session_factory.begin() as session:
        kept = [
            v.id
            for v in catalog.list_versions(session=session, series_id=weather)
            if v.weights is None and v.status != "failed"
        ]
    assert len(kept) == 4 and second["failed"] == []


def test_worse_candidate_is_not_promoted(
    tmp_path: Path, database_url: str, session_factory: sessionmaker[Session], weather: int
) -> None:
    good = _config(tmp_path, "good", [{"architecture": "gru", "strategy": "recursive"}], epochs=6)
    bad = _config(
        tmp_path,
        "bad",
        [{"architecture": "gru", "strategy": "recursive"}],
        epochs=1,
        lr=1e-9,
        seed=5,
    )
    first = retrain(series=["sea"], database_url=database_url, config_path=good).to_json()
    assert first["promoted"] == first["versions"]
    second = retrain(series=["sea"], database_url=database_url, config_path=bad).to_json()
    assert second["promoted"] == [] and second["failed"] == []
    assert "does not beat" in second["candidates"][0]["reason"]
    assert second["served"][0]["version_id"] == first["versions"][0]  # the champion stays
    statuses = _statuses(session_factory, weather)
    assert statuses[first["versions"][0]] == "champion"
    assert statuses[second["versions"][0]] == "candidate"


def test_crashing_candidate_leaves_the_champion_serving(
    tmp_path: Path,
    database_url: str,
    session_factory: sessionmaker[Session],
    weather: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = _config(tmp_path, "good", [{"architecture": "gru", "strategy": "recursive"}])
    first = retrain(series=["sea"], database_url=database_url, config_path=good).to_json()
    crashing = _config(
        tmp_path,
        "crash",
        [
            {
                "architecture": "gru",
                "strategy": "recursive",
                "lookback": 5000,
            },  # longer than the history
            {"architecture": "lstm", "strategy": "recursive"},  # crashes mid-training
            {"architecture": "rnn", "strategy": "recursive"},
        ],
    )
    real_train = training.train_model

    def crash_lstm(frame, spec, **kw):  # type: ignore[no-untyped-def]
        if spec.architecture == "lstm":
            raise RuntimeError("CUDA out of memory (simulated)")
        return real_train(frame, spec, **kw)

    monkeypatch.setattr(training, "train_model", crash_lstm)
    out = retrain(series=["sea"], database_url=database_url, config_path=crashing).to_json()
    assert len(out["failed"]) == 2 and len(out["versions"]) == 3
    with session_factory.begin() as session:
        run = runs_db.get_run(session=session, run_id=out["run_id"])
        assert run.status == "failed"
        assert run.error == (
            "sea gru/recursive: InvalidData: lookback=5000 is longer than the history (1461 rows); "
            "use a shorter lookback or provide more data; "
            "sea lstm/recursive: RuntimeError: CUDA out of memory (simulated)"
        )
        for version_id in out["failed"]:
            failed = catalog.get_version(session=session, version_id=version_id)
            assert failed.status == "failed" and failed.weights is None
        champion = catalog.get_champion(session=session, series_id=weather, strategy="recursive")
    assert champion.id in (first["versions"][0], *out["promoted"])
    assert not set(out["failed"]) & set(out["promoted"])


@pytest.mark.usefixtures("weather")
def test_a_candidate_cut_by_the_time_budget_is_recorded_on_the_run(
    tmp_path: Path, database_url: str, session_factory: sessionmaker[Session]
) -> None:
    config = _config(
        tmp_path, "cut", [{"architecture": "gru", "strategy": "direct"}], time_budget_s=1e-6
    )
    out = retrain(series=["sea"], database_url=database_url, config_path=config).to_json()
    assert out["failed"] == [] and out["cut_short"] == out["versions"]
    (candidate,) = out["candidates"]
    assert (candidate["stopped"], candidate["cut_short"], candidate["epochs_run"]) == (
        "time_budget",
        True,
        1,
    )
    assert candidate["notices"] == [
        "training cut short by the time budget (1e-06 s) after 1 of 3 epochs"
    ]
    with session_factory.begin() as session:
        run = runs_db.get_run(session=session, run_id=out["run_id"])
        assert run.result["cut_short"] == out["versions"]
        version = catalog.get_version(session=session, version_id=out["versions"][0])
        assert version.feature_spec["fit"]["cut_short"] is True


def test_the_forecast_flow_starts_a_retrain_when_live_accuracy_slips_and_says_why(
    session_factory: sessionmaker[Session], database_url: str, tmp_path: Path
) -> None:
    import time

    from forecaster.db import forecast_log
    from forecaster.db.models import ModelVersion, utcnow

    frame = load_sample("seattle-weather").iloc[:400][["tmax", "tmin"]]
    with session_factory.begin() as session:
        sid = series_db.register_series(session=session, key="seattle", source="csv").id
        observations_db.upsert_observations(session=session, series_id=sid, frame=frame)
    path = tmp_path / "policy.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "backtest_origins": 20,
                "policy": {"window": 10, "min_origins": 5, "error_margin": 0.25},
                "defaults": {**TINY, "targets": ["tmax"]},
                "candidates": [{"architecture": "gru", "strategy": "recursive"}],
            }
        )
    )
    retrain(series=["seattle"], database_url=database_url, config_path=str(path))
    with session_factory.begin() as session:
        champion = catalog.find_champion(session=session, series_id=sid, strategy="recursive")
        assert champion is not None
        # the champion served 12 forecasts since, each 10 degrees off: live MAE far above backtest
        rows = [
            {"model_version_id": champion.id, "origin": ts, "step": 1, "variable": "tmax",
             "series_id": sid, "strategy": "recursive", "ts": nxt,
             "value": float(frame["tmax"].loc[nxt]) + 10.0, "naive": float(frame["tmax"].loc[ts]),
             "logged_at": utcnow()}
            for ts, nxt in zip(frame.index[-13:-1], frame.index[-12:], strict=True)
        ]  # fmt: skip
        forecast_log.log_rows(session=session, rows=rows)
        forecast_log.score(session=session, series_id=sid)
    out = forecast(series=["seattle"], database_url=database_url, config_path=str(path))
    assert isinstance(out, ForecastResult) and out.policy_retrains is not None
    (started,) = out.policy_retrains
    assert started.series == "seattle" and started.run_id is not None
    assert out.to_json()["policy_retrains"] == [
        {"series": "seattle", "run_id": started.run_id, "reason": started.reason}
    ]
    deadline = time.monotonic() + 300
    while True:
        with session_factory.begin() as session:
            run = runs_db.get_run(session=session, run_id=started.run_id)
            if run.status not in ("pending", "running"):
                break
        assert time.monotonic() < deadline, "the policy's retrain did not finish in 300 s"
        time.sleep(0.5)
    assert run.status == "completed" and run.kind == "retrain" and run.trigger == "policy"
    assert run.reason == started.reason
    assert run.reason.startswith(
        f"recursive champion v{champion.id} over its last 10 scored origins: tmax live MAE "
    )
    assert "above its backtest MAE" in run.reason
    assert run.result["versions"]  # it trained a candidate
    with session_factory.begin() as session:
        assert session.get(ModelVersion, run.result["versions"][0]).run_id == run.id
    # the evidence was acted on: the next forecast flow starts nothing
    again = forecast(series=["seattle"], database_url=database_url, config_path=str(path))
    assert isinstance(again, ForecastResult) and again.policy_retrains == ()
    with session_factory.begin() as session:
        stored = runs_db.get_run(session=session, run_id=again.run_id).result
    assert stored == again.record() and stored["policy_retrains"] == []
