"""Registering and promoting model versions in a real database: champions per strategy, the
champion rule applied (its table of cases is tests/forecaster/test_champion.py)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session, sessionmaker

from forecaster.app import catalog
from forecaster.app.failures import record_failure
from forecaster.app.versions import promote, register_candidate
from forecaster.db import series as series_db
from forecaster.db.versions import load_version
from forecaster.errors import NoChampion
from forecaster.forecasting.train import TrainOutcome, train_model
from forecaster.spec import ModelSpec
from tests.forecaster.conftest import SPEC


@pytest.fixture(scope="module")
def untrained(frame: pd.DataFrame) -> TrainOutcome:
    """A candidate that learned nearly nothing (a vanishing learning rate): worse than a trained champion."""
    return train_model(frame, replace(SPEC, lr=1e-9, epochs=1, seed=2), freq="D")


@pytest.fixture
def series_id(session_factory: sessionmaker[Session]) -> int:
    with session_factory.begin() as session:
        return series_db.register_series(session=session, key="sea", source="csv", frequency="D").id


def test_a_model_that_beats_the_baselines_becomes_champion_then_a_worse_one_does_not(
    session_factory: sessionmaker[Session],
    series_id: int,
    trained: TrainOutcome,
    untrained: TrainOutcome,
    frame: pd.DataFrame,
) -> None:
    with session_factory.begin() as session:
        first = register_candidate(
            session=session, series_id=series_id, outcome=trained, frame=frame, origins=30
        )
        worse = register_candidate(
            session=session, series_id=series_id, outcome=untrained, frame=frame, origins=30
        )
    # weather has a learnable signal: the trained GRU beats carrying the last value forward
    assert first.promoted and first.reason.startswith("mase ")
    assert first.baseline in ("naive", "seasonal_naive") and "baseline's" in first.reason
    assert first.naive_score is not None and first.candidate_score is not None
    assert first.baseline_score is not None and first.candidate_score < first.baseline_score
    assert first.served_id == first.version_id and not first.baseline_served
    assert not worse.promoted and worse.champion_id == first.version_id
    assert worse.candidate_score > worse.champion_score
    assert worse.reason.startswith("mase ") and "does not beat" in worse.reason
    assert worse.served_id == first.version_id  # the champion beats the baseline: it stays
    with session_factory.begin() as session:
        champion = catalog.get_champion(session=session, series_id=series_id, strategy="recursive")
        assert champion.id == first.version_id
        assert (
            catalog.get_version(session=session, version_id=worse.version_id).status == "candidate"
        )
        backtest = [
            r
            for r in catalog.version_metrics(session=session, version_id=worse.version_id)
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
        first = register_candidate(
            session=session, series_id=series_id, outcome=trained, frame=frame, origins=20
        )
        forced = register_candidate(
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
            catalog.get_version(session=session, version_id=first.version_id).status == "archived"
        )
        promote(session=session, version_id=first.version_id)
    with session_factory.begin() as session:
        statuses = {
            v.id: v.status
            for v in catalog.list_versions(session=session, series_id=series_id)
            if v.architecture == "gru"
        }
    assert statuses == {first.version_id: "champion", forced.version_id: "archived"}


def test_no_champion_message_says_how_to_train(
    session_factory: sessionmaker[Session], series_id: int
) -> None:
    with session_factory.begin() as session, pytest.raises(NoChampion) as err:
        catalog.get_champion(
            session=session, series_id=series_id, strategy="direct", series_key="sea"
        )
    assert (err.value.series_key, err.value.strategy) == ("sea", "direct")
    assert str(err.value) == "series 'sea' has no direct champion yet; train one first"


def test_failed_version_cannot_be_promoted(
    session_factory: sessionmaker[Session], series_id: int
) -> None:
    with session_factory.begin() as session:
        failed = record_failure(
            session=session,
            series_id=series_id,
            architecture="gru",
            strategy="direct",
            spec={},
            error="RuntimeError: boom",
            run_id=None,
        )
        with pytest.raises(Exception, match="failed to train and cannot be promoted"):
            promote(session=session, version_id=failed.id)


def random_walk(n: int = 700, seed: int = 0) -> pd.DataFrame:
    """A random walk: the last value is the best forecast there is, so no model has skill."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2020-01-01", periods=n, freq="D", name="ts")
    return pd.DataFrame({"y": 100.0 + rng.normal(size=n).cumsum()}, index=index)


TINY = ModelSpec(
    architecture="gru",
    strategy="direct",
    lookback=20,
    horizon=5,
    targets=("y",),
    inputs=("y",),
    hidden_size=4,
    epochs=2,
    seed=3,
)


def test_the_naive_baseline_is_champion_when_no_model_beats_it(
    session_factory: sessionmaker[Session], series_id: int
) -> None:
    walk = random_walk()
    outcome = train_model(walk, TINY, freq="D")
    with session_factory.begin() as session:
        decision = register_candidate(
            session=session, series_id=series_id, outcome=outcome, frame=walk, origins=60
        )
    assert not decision.promoted and decision.baseline_served
    assert decision.candidate_score is not None and decision.baseline_score is not None
    assert decision.candidate_score > decision.baseline_score
    assert decision.baseline == decision.served_architecture
    assert "no skill" in decision.reason and "baseline (version" in decision.reason
    with session_factory.begin() as session:
        champion = catalog.get_champion(session=session, series_id=series_id, strategy="direct")
        assert champion.id == decision.served_id and champion.weights is None
        assert champion.architecture in ("naive", "seasonal_naive")
        json.dumps(champion.hyperparameters), json.dumps(champion.feature_spec)  # JSON only
        model = load_version(champion)
        rows = catalog.version_metrics(session=session, version_id=champion.id)
        statuses = {
            v.architecture: v.status
            for v in catalog.list_versions(session=session, series_id=series_id)
        }
    assert statuses == {
        "gru": "candidate",
        champion.architecture: "champion",
        ({"naive", "seasonal_naive"} - {champion.architecture}).pop(): "candidate",
    }
    fc = model.predict(walk, horizon=5, level=0.9)
    values = fc.points["value"].to_numpy()
    if champion.architecture == "naive":
        np.testing.assert_array_equal(values, np.full(5, walk["y"].iloc[-1]))
    lower, upper = fc.points["lower"].to_numpy(), fc.points["upper"].to_numpy()
    assert np.isfinite(lower).all() and (lower < values).all() and (values < upper).all()
    # a random walk's error grows with the step: so do the calibrated intervals
    assert upper[-1] - lower[-1] > upper[0] - lower[0]
    backtest = {(r.model, r.metric, r.step): r.value for r in rows if r.split == "backtest"}
    # the baseline version's own "model" rows are its forecasts: they equal the naive yardstick
    assert backtest[("model", "mase", 0)] == pytest.approx(
        backtest[(champion.architecture, "mase", 0)]
    )
    coverage = backtest[("model", "coverage", 0)]
    assert coverage is not None and 0.6 <= coverage <= 1.0


def test_a_learned_model_replaces_a_baseline_champion_when_it_beats_both(
    session_factory: sessionmaker[Session],
    series_id: int,
    trained: TrainOutcome,
    untrained: TrainOutcome,
    frame: pd.DataFrame,
) -> None:
    with session_factory.begin() as session:
        lost = register_candidate(
            session=session, series_id=series_id, outcome=untrained, frame=frame, origins=30
        )
        won = register_candidate(
            session=session, series_id=series_id, outcome=trained, frame=frame, origins=30
        )
    assert not lost.promoted and lost.baseline_served
    baseline_id = lost.served_id
    assert won.promoted and won.champion_id == baseline_id and not won.baseline_served
    assert won.candidate_score is not None and won.baseline_score is not None
    assert won.candidate_score < won.baseline_score
    with session_factory.begin() as session:
        assert catalog.get_version(session=session, version_id=baseline_id).status == "archived"
        # the second registration found the same data: the baselines were kept, not duplicated
        kinds = [
            v.architecture
            for v in catalog.list_versions(session=session, series_id=series_id)
            if v.architecture in ("naive", "seasonal_naive")
        ]
    assert sorted(kinds) == ["naive", "seasonal_naive"]
