"""Model versions in a real database: exact save/load, champions per strategy, the promotion rule."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from sqlalchemy.orm import Session, sessionmaker

from forecaster import registry
from forecaster.db import repo
from forecaster.errors import NoChampion
from forecaster.forecasting import ModelSpec, TrainOutcome, train_model
from forecaster.sources.samples import load_sample

SPEC = ModelSpec(
    architecture="gru",
    strategy="recursive",
    lookback=28,
    horizon=7,
    targets=("tmax",),
    inputs=("tmax", "tmin"),
    hidden_size=16,
    num_layers=1,
    epochs=4,
    seed=1,
)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return load_sample("seattle-weather")[["tmax", "tmin"]]


@pytest.fixture(scope="module")
def trained(frame: pd.DataFrame) -> TrainOutcome:
    torch.set_num_threads(1)
    return train_model(frame, SPEC, freq="D")


@pytest.fixture(scope="module")
def untrained(frame: pd.DataFrame) -> TrainOutcome:
    """A candidate that learned nearly nothing (a vanishing learning rate): worse than a trained champion."""
    return train_model(frame, replace(SPEC, lr=1e-9, epochs=1, seed=2), freq="D")


@pytest.fixture
def series_id(session_factory: sessionmaker[Session]) -> int:
    with session_factory.begin() as session:
        return repo.register_series(session=session, key="sea", source="csv", frequency="D").id


def test_saved_version_loads_to_identical_predictions(
    session_factory: sessionmaker[Session],
    series_id: int,
    trained: TrainOutcome,
    frame: pd.DataFrame,
) -> None:
    with session_factory.begin() as session:
        version_id = registry.save_version(session=session, series_id=series_id, outcome=trained).id
    with session_factory.begin() as session:
        version = registry.get_version(session=session, version_id=version_id)
        assert version.weights is not None and version.weights[8:9] == b"{"  # safetensors header
        json.dumps(version.hyperparameters), json.dumps(version.feature_spec)  # plain JSON
        loaded = registry.load_version(version)
        assert version.train_start == pd.Timestamp("2012-01-01").to_pydatetime()
        stored = registry.version_metrics(session=session, version_id=version_id)
    before = trained.model.predict(frame, horizon=7)
    after = loaded.predict(frame, horizon=7)
    np.testing.assert_array_equal(
        before.points["value"].to_numpy(), after.points["value"].to_numpy()
    )
    np.testing.assert_array_equal(
        before.points["upper"].to_numpy(), after.points["upper"].to_numpy()
    )
    assert {(r.split, r.model) for r in stored} >= {
        ("test", "model"),
        ("test", "naive"),
        ("test", "seasonal_naive"),
    }
    assert len(stored) == len(trained.report.rows)


def test_first_model_of_a_strategy_becomes_champion_then_worse_one_does_not(
    session_factory: sessionmaker[Session],
    series_id: int,
    trained: TrainOutcome,
    untrained: TrainOutcome,
    frame: pd.DataFrame,
) -> None:
    with session_factory.begin() as session:
        first = registry.register_candidate(
            session=session, series_id=series_id, outcome=trained, frame=frame, origins=30
        )
        worse = registry.register_candidate(
            session=session, series_id=series_id, outcome=untrained, frame=frame, origins=30
        )
    assert first.promoted and first.reason == "first recursive model of the series"
    assert first.naive_score is not None and first.candidate_score is not None
    assert not worse.promoted and worse.champion_id == first.version_id
    assert worse.candidate_score > worse.champion_score
    assert worse.reason.startswith("mase ") and "does not beat champion" in worse.reason
    with session_factory.begin() as session:
        champion = registry.get_champion(session=session, series_id=series_id, strategy="recursive")
        assert champion.id == first.version_id
        assert (
            registry.get_version(session=session, version_id=worse.version_id).status == "candidate"
        )
        backtest = [
            r
            for r in registry.version_metrics(session=session, version_id=worse.version_id)
            if r.split == "backtest"
        ]
        assert {r.model for r in backtest} == {"model", "naive", "seasonal_naive"}


def test_explicit_promotion_archives_the_old_champion(
    session_factory: sessionmaker[Session],
    series_id: int,
    trained: TrainOutcome,
    untrained: TrainOutcome,
    frame: pd.DataFrame,
) -> None:
    with session_factory.begin() as session:
        first = registry.register_candidate(
            session=session, series_id=series_id, outcome=trained, frame=frame, origins=20
        )
        forced = registry.register_candidate(
            session=session,
            series_id=series_id,
            outcome=untrained,
            frame=frame,
            origins=20,
            force=True,
        )
    assert forced.promoted and forced.reason == "promoted explicitly"
    with session_factory.begin() as session:
        assert (
            registry.get_version(session=session, version_id=first.version_id).status == "archived"
        )
        registry.promote(session=session, version_id=first.version_id)
    with session_factory.begin() as session:
        statuses = {
            v.id: v.status for v in registry.list_versions(session=session, series_id=series_id)
        }
    assert statuses == {first.version_id: "champion", forced.version_id: "archived"}


def test_no_champion_message_says_how_to_train(
    session_factory: sessionmaker[Session], series_id: int
) -> None:
    with session_factory.begin() as session, pytest.raises(NoChampion) as err:
        registry.get_champion(
            session=session, series_id=series_id, strategy="direct", series_key="sea"
        )
    assert str(err.value) == (
        "series 'sea' has no direct champion yet; train one with `forecaster train sea --strategy direct` "
        'or POST /api/v1/runs {"kind": "retrain", "series": ["sea"]}'
    )


def test_failed_version_cannot_be_promoted(
    session_factory: sessionmaker[Session], series_id: int
) -> None:
    with session_factory.begin() as session:
        failed = registry.record_failure(
            session=session,
            series_id=series_id,
            architecture="gru",
            strategy="direct",
            spec={},
            error="RuntimeError: boom",
            run_id=None,
        )
        with pytest.raises(Exception, match="failed to train and cannot be promoted"):
            registry.promote(session=session, version_id=failed.id)
