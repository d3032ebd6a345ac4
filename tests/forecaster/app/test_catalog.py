"""Read-only questions about versions, from the database alone: listings, champions, the
figures table, and which version a forecast read uses."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from forecaster.app.catalog import (
    MAX_VERSION_ID,
    find_champion,
    get_champion,
    get_version,
    list_versions,
    metrics_table,
)
from forecaster.app.forecasts import resolve_version
from forecaster.db import series as series_db
from forecaster.db.models import Evaluation, ModelVersion, Series
from forecaster.errors import InvalidRequest, NoChampion, UnknownModel


def _store(session: Session) -> tuple[Series, dict[str, ModelVersion]]:
    series = series_db.register_series(session=session, key="s", source="csv", params={})
    other = series_db.register_series(session=session, key="t", source="csv", params={})
    rows = {
        "champion": ModelVersion(
            series_id=series.id, architecture="naive", strategy="recursive", status="champion"
        ),
        "direct": ModelVersion(series_id=series.id, architecture="naive", strategy="direct"),
        "failed": ModelVersion(
            series_id=series.id, architecture="gru", strategy="recursive", status="failed"
        ),
        "other": ModelVersion(series_id=other.id, architecture="naive", strategy="recursive"),
    }
    session.add_all(rows.values())
    session.flush()
    return series, rows


def test_listings_and_champions(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        series, rows = _store(session)
        assert [v.id for v in list_versions(session=session, series_id=series.id)] == sorted(
            (rows[k].id for k in ("champion", "direct", "failed")), reverse=True
        )
        assert [v.id for v in list_versions(session=session, status="champion")] == [
            rows["champion"].id
        ]
        assert find_champion(session=session, series_id=series.id, strategy="direct") is None
        with pytest.raises(NoChampion) as caught:
            get_champion(session=session, series_id=series.id, strategy="direct", series_key="s")
        assert (caught.value.series_key, caught.value.strategy) == ("s", "direct")
        with pytest.raises(UnknownModel) as missing:
            get_version(session=session, version_id=999)
        assert missing.value.version_id == 999 and missing.value.series_key is None


def test_metrics_table_puts_the_model_beside_both_baselines(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        _, rows = _store(session)
        vid = rows["champion"].id
        session.add_all(
            Evaluation(
                model_version_id=vid,
                split=split,
                model=model,
                variable="x",
                step=1,
                metric="mae",
                value=value,
            )
            for split, model, value in [
                ("test", "model", 9.0),
                ("backtest", "model", 1.0),
                ("backtest", "naive", 2.0),
                ("backtest", "seasonal_naive", 3.0),
            ]
        )
        session.flush()
        split, table = metrics_table(session=session, version_id=vid)
        assert split == "backtest"
        assert table == [
            {
                "variable": "x",
                "step": 1,
                "metric": "mae",
                "model": 1.0,
                "naive": 2.0,
                "seasonal_naive": 3.0,
            }
        ]
        assert (
            metrics_table(session=session, version_id=vid, splits=("test",))[1][0]["model"] == 9.0
        )


@pytest.mark.parametrize(
    ("strategy", "model", "error", "fields"),
    [
        ("sideways", "champion", InvalidRequest, {}),
        ("direct", "champion", NoChampion, {"series_key": "s", "strategy": "direct"}),
        (None, "abc", InvalidRequest, {"model": "abc", "max_id": MAX_VERSION_ID}),
        (None, str(MAX_VERSION_ID + 1), InvalidRequest, {"max_id": MAX_VERSION_ID}),
        (None, "other", UnknownModel, {"series_key": "s"}),
        ("direct", "champion-id", InvalidRequest, {}),  # contradicts the version's strategy
        (None, "failed", InvalidRequest, {}),
    ],
)
def test_resolve_version_refuses_with_fields(
    session_factory: sessionmaker[Session],
    strategy: str | None,
    model: str,
    error: type[Exception],
    fields: dict[str, object],
) -> None:
    with session_factory.begin() as session:
        series, rows = _store(session)
        ref = {"other": rows["other"].id, "failed": rows["failed"].id}.get(model, model)
        ref = rows["champion"].id if model == "champion-id" else ref
        with pytest.raises(error) as caught:
            resolve_version(session=session, series=series, strategy=strategy, model=ref)
        assert {k: getattr(caught.value, k) for k in fields} == fields


def test_resolve_version_defaults(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        series, rows = _store(session)
        found = resolve_version(session=session, series=series, strategy=None, model="champion")
        assert found.id == rows["champion"].id  # recursive for the champion
        direct = resolve_version(
            session=session, series=series, strategy=None, model=rows["direct"].id
        )
        assert direct.id == rows["direct"].id  # the version's own for an id
