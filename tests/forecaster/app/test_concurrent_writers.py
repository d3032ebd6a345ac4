"""Two writers on one series at once, on PostgreSQL (SQLite has one writer): results from two
workers for one series never collide."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from forecaster.app import training, versions
from forecaster.db import observations as observations_db
from forecaster.db import series as series_db
from forecaster.db.models import Evaluation
from forecaster.sources.csv import load_sample
from forecaster.spec import ModelSpec

SPEC = ModelSpec("gru", "recursive", lookback=28, horizon=7, targets=("tmax",))


def _waiting_on_a_lock(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(
            session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            )
            or 0
        )


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_workers_scoring_one_series_baselines_at_once_both_commit(
    session_factory: sessionmaker[Session],
) -> None:
    frame = load_sample("seattle-weather").iloc[-400:][["tmax", "tmin"]]
    with session_factory.begin() as session:
        sid = series_db.register_series(session=session, key="sea", source="csv").id
        observations_db.upsert_observations(session=session, series_id=sid, frame=frame)
    request = training.TrainRequest("sea", SPEC, origins=10)
    first = training.refresh_baselines(sessions=session_factory, request=request)
    errors: list[BaseException] = []

    def second_worker() -> None:  # the same re-scoring, as another candidate's task does it
        try:
            training.refresh_baselines(sessions=session_factory, request=request)
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    with session_factory.begin() as session:  # the first worker, mid-transaction
        job = training.prepare_training(session=session, request=request)
        versions.refresh_baselines(
            session=session, series_id=sid, strategy="recursive", frame=job.frame, freq="D",
            targets=["tmax"], horizon=7, origins=10,
        )  # fmt: skip
        other = threading.Thread(target=second_worker)
        other.start()
        deadline = time.monotonic() + 60
        while _waiting_on_a_lock(session_factory) == 0:  # it waits for this transaction
            assert other.is_alive() and time.monotonic() < deadline, errors
            time.sleep(0.05)
    other.join(60)
    assert errors == []
    with session_factory.begin() as session:
        cells = session.scalar(
            select(func.count()).select_from(Evaluation).where(
                Evaluation.model_version_id == first["naive"]
            )
        )  # fmt: skip
        distinct = session.scalar(
            select(func.count()).select_from(
                select(Evaluation.split, Evaluation.model, Evaluation.variable,
                       Evaluation.step, Evaluation.metric)
                .where(Evaluation.model_version_id == first["naive"]).distinct().subquery()
            )
        )  # fmt: skip
    assert cells == distinct and cells
