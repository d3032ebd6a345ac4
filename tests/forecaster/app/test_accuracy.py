"""The retrain policy's verdicts on a real SQLite file and PostgreSQL: which evidence triggers a
retrain, said in words, and only evidence gathered since the series' last retrain counts."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy.orm import Session, sessionmaker

from forecaster.app.accuracy import evaluate_policy
from forecaster.db import forecast_log
from forecaster.db import observations as observations_db
from forecaster.db import runs as runs_db
from forecaster.db import series as series_db
from forecaster.db.models import Evaluation, ModelVersion, utcnow
from forecaster.errors import InvalidRequest
from forecaster.policy import RetrainPolicy

DAY = timedelta(days=1)
START = datetime(2024, 1, 1)


def _champion(factory: sessionmaker[Session], architecture: str = "gru") -> tuple[int, int]:
    """A series observed at 100 + day, and a champion whose backtest MAE is 1 and MASE ratio 0.8."""
    idx = pd.date_range(START, periods=40, freq="D", name="ts")
    with factory.begin() as session:
        sid = series_db.register_series(session=session, key="S", source="csv", frequency="D").id
        observations_db.upsert_observations(
            session=session,
            series_id=sid,
            frame=pd.DataFrame({"y": 100.0 + pd.RangeIndex(40)}, index=idx),
        )
        version = ModelVersion(
            series_id=sid,
            architecture=architecture,
            strategy="recursive",
            status="champion",
            promoted_at=utcnow() - timedelta(hours=1),
        )
        session.add(version)
        session.flush()
        for who, mae, mase in (("model", 1.0, 0.8), ("naive", 1.25, 1.0)):
            for step in (0, 1, 2):
                for metric, value in (("mae", mae), ("mase", mase)):
                    session.add(
                        Evaluation(
                            model_version_id=version.id, split="backtest", model=who,
                            variable="y", step=step, metric=metric, value=value,
                        )
                    )  # fmt: skip
        return sid, version.id


def _serve(
    factory: sessionmaker[Session], sid: int, vid: int, origins: int, error: float, half: float
) -> None:
    """`origins` daily forecasts of 2 steps, each `error` off, with +-`half` intervals; scored."""
    rows = []
    for o in range(origins):
        origin = START + o * DAY
        for step in (1, 2):
            actual = 100.0 + o + step
            rows.append(
                {"model_version_id": vid, "origin": origin, "step": step, "variable": "y",
                 "series_id": sid, "strategy": "recursive", "ts": origin + step * DAY,
                 "value": actual + error, "lower": actual + error - half,
                 "upper": actual + error + half, "level": 0.9, "naive": 100.0 + o}
            )  # fmt: skip
    with factory.begin() as session:
        forecast_log.log_rows(session=session, rows=[{**r, "logged_at": utcnow()} for r in rows])
        forecast_log.score(session=session, series_id=sid)


def _verdict(factory: sessionmaker[Session], policy: RetrainPolicy):  # type: ignore[no-untyped-def]
    with factory.begin() as session:
        (verdict,) = evaluate_policy(session=session, series_key="S", policy=policy)
    return verdict


def test_a_champion_within_its_backtest_and_coverage_is_left_alone(
    session_factory: sessionmaker[Session],
) -> None:
    sid, vid = _champion(session_factory)
    _serve(session_factory, sid, vid, origins=12, error=1.0, half=2.0)
    verdict = _verdict(session_factory, RetrainPolicy(window=10, min_origins=5))
    assert verdict.origins == 10 and not verdict.retrain  # MAE 1 = backtest, ratio 0.67, covered


def test_slipping_error_coverage_and_skill_each_trigger_with_the_evidence(
    session_factory: sessionmaker[Session],
) -> None:
    sid, vid = _champion(session_factory)
    # 2 off with +-1.5 intervals: MAE 2 (backtest 1), nothing covered, naive errs 1.5 on average
    _serve(session_factory, sid, vid, origins=12, error=2.0, half=1.5)
    verdict = _verdict(session_factory, RetrainPolicy(window=10, min_origins=5))
    assert verdict.retrain
    assert verdict.reason == (
        f"recursive champion v{vid} over its last 10 scored origins: "
        "y live MAE 2 is 100% above its backtest MAE 1 (margin 25%); "
        "y live coverage 0% of its 90% intervals is below the floor 70%; "
        "y no longer beats the naive forecast live (MAE ratio 1.33 >= 1)"
    )
    # too few origins: no verdict yet
    assert not _verdict(session_factory, RetrainPolicy(window=20, min_origins=13)).retrain


def test_a_baseline_champion_is_not_asked_to_beat_itself(
    session_factory: sessionmaker[Session],
) -> None:
    sid, vid = _champion(session_factory, architecture="naive")
    _serve(session_factory, sid, vid, origins=12, error=1.6, half=2.0)
    verdict = _verdict(session_factory, RetrainPolicy(window=10, min_origins=5, error_margin=1.0))
    assert not verdict.retrain  # 60 % above backtest is within a 100 % margin; naive ratio unused


def test_only_evidence_since_the_last_retrain_counts(
    session_factory: sessionmaker[Session],
) -> None:
    sid, vid = _champion(session_factory)
    _serve(session_factory, sid, vid, origins=12, error=2.0, half=1.5)
    with session_factory.begin() as session:
        runs_db.create_run(session=session, kind="retrain", parameters={"series": ["S"]})
    verdict = _verdict(session_factory, RetrainPolicy(window=10, min_origins=5))
    assert verdict.origins == 0 and not verdict.retrain  # the retrain acted on that evidence


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"windw": 3}, "retrain policy: unknown field(s) windw; valid fields are "),
        ({"window": 3, "min_origins": 5}, "retrain policy: window=3 and min_origins=5 need "),
        ({"coverage_floor": 1.5}, "retrain policy: error_margin=0.25 must be >= 0 and "),
    ],
)
def test_bad_policy_settings_say_what_is_valid(raw: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        RetrainPolicy.from_dict(raw)
    assert str(err.value).startswith(message)
