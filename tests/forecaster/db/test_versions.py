"""Model versions in a real database: a saved version loads to identical predictions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session, sessionmaker

from forecaster.app import catalog
from forecaster.db import series as series_db
from forecaster.db.versions import load_version, save_version
from forecaster.forecasting.train import TrainOutcome


@pytest.fixture
def series_id(session_factory: sessionmaker[Session]) -> int:
    with session_factory.begin() as session:
        return series_db.register_series(session=session, key="sea", source="csv", frequency="D").id


def test_saved_version_loads_to_identical_predictions(
    session_factory: sessionmaker[Session],
    series_id: int,
    trained: TrainOutcome,
    frame: pd.DataFrame,
) -> None:
    with session_factory.begin() as session:
        version_id = save_version(session=session, series_id=series_id, outcome=trained).id
    with session_factory.begin() as session:
        version = catalog.get_version(session=session, version_id=version_id)
        assert version.weights is not None and version.weights[8:9] == b"{"  # safetensors header
        json.dumps(version.hyperparameters), json.dumps(version.feature_spec)  # plain JSON
        loaded = load_version(version)
        assert version.train_start == pd.Timestamp("2012-01-01").to_pydatetime()
        stored = catalog.version_metrics(session=session, version_id=version_id)
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
