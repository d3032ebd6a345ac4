"""Model versions: list and filter, detail with figures beside the baselines, promotion."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from forecaster.app.failures import record_failure
from forecaster.app.versions import promote
from forecaster.db import series as series_db
from tests.api.conftest import AUTH


def test_list_and_filter_models(client: TestClient, trained: dict[str, int]) -> None:
    listed = client.get("/api/v1/models").json()
    assert listed["count"] == 4
    assert [m["id"] for m in listed["data"]] == sorted(trained.values(), reverse=True)
    champions = client.get(
        "/api/v1/models", params={"series": "seattle-weather", "status": "champion"}
    ).json()
    assert {m["id"] for m in champions["data"]} == {trained["gru-recursive"], trained["gru-direct"]}
    assert {m["series"] for m in champions["data"]} == {"seattle-weather"}
    ibm = client.get("/api/v1/models", params={"series": "IBM"}).json()
    assert [m["id"] for m in ibm["data"]] == [trained["ibm-recursive"]]

    r = client.get("/api/v1/models", params={"series": "MSFT"})
    assert r.status_code == 404
    r = client.get("/api/v1/models", params={"status": "best"})
    assert r.status_code == 422
    assert r.json() == {
        "detail": "query parameter 'status': Input should be 'candidate', 'champion', 'archived' "
        "or 'failed' (got 'best')"
    }


def test_model_detail_has_config_range_and_figures(
    client: TestClient, trained: dict[str, int]
) -> None:
    m = client.get(f"/api/v1/models/{trained['gru-direct']}").json()
    assert m["architecture"] == "gru" and m["strategy"] == "direct" and m["status"] == "champion"
    assert m["lookback"] == 14 and m["horizon"] == 5 and m["targets"] == ["tmax"]
    assert m["config"]["hidden_size"] == 8 and m["has_attention"] is False
    assert m["train_start"] == "2012-01-01T00:00:00Z" and m["train_end"] is not None
    assert m["primary_metric"] == "mase" and m["primary_score"] is not None
    assert set(m["metrics"]) == {"backtest", "test", "valid"}
    pooled = [s for s in m["metrics"]["test"] if s["step"] == 0][0]
    assert {"mae", "rmse", "mape", "smape", "mase"} <= set(pooled["naive"])
    assert "coverage" in pooled["model"]

    s2s = client.get(f"/api/v1/models/{trained['seq2seq-direct']}").json()
    assert s2s["has_attention"] is True and s2s["status"] == "candidate"

    r = client.get("/api/v1/models/9999")
    assert r.status_code == 404
    assert r.json() == {
        "detail": "unknown model version 9999; GET /api/v1/models lists the versions"
    }


def test_promotion_swaps_the_champion_and_what_is_served(
    client: TestClient, trained: dict[str, int]
) -> None:
    direct = "/api/v1/forecasts/seattle-weather?strategy=direct"
    before = client.get(direct).json()
    assert before["model"]["id"] == trained["gru-direct"] and before["attention"] is None

    r = client.post(f"/api/v1/models/{trained['seq2seq-direct']}/promote", headers=AUTH)
    assert r.status_code == 200
    assert r.json()["status"] == "champion" and r.json()["promoted_at"] is not None

    after = client.get(direct).json()
    assert after["model"]["id"] == trained["seq2seq-direct"]
    assert after["attention"] is not None
    old = client.get(f"/api/v1/models/{trained['gru-direct']}").json()
    assert old["status"] == "archived"
    # the recursive champion is untouched
    recursive = client.get("/api/v1/forecasts/seattle-weather").json()
    assert recursive["model"]["id"] == trained["gru-recursive"]


@pytest.mark.usefixtures("trained")
def test_a_failed_version_cannot_be_promoted(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        series = series_db.get_series(session=session, key="IBM")
        failed = record_failure(
            session=session,
            series_id=series.id,
            architecture="lstm",
            strategy="direct",
            spec={},
            error="InvalidData: too short",
            run_id=None,
        ).id
    r = client.post(f"/api/v1/models/{failed}/promote", headers=AUTH)
    assert r.status_code == 422
    assert r.json() == {
        "detail": f"model version {failed} failed to train and cannot be promoted; "
        "promote a candidate or archived version"
    }
    shown = client.get(f"/api/v1/models/{failed}").json()
    assert shown["status"] == "failed" and shown["error"] == "InvalidData: too short"
    assert client.post("/api/v1/models/9999/promote", headers=AUTH).status_code == 404


def test_after_an_in_process_retrain_the_new_champions_are_loaded(
    trained: dict[str, int], client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    app = client.app
    assert sorted(app.state.caches.models.loaded) == sorted(  # type: ignore[attr-defined]
        [trained["gru-recursive"], trained["gru-direct"], trained["ibm-recursive"]]
    )
    with session_factory.begin() as session:  # what a retrain flow's promotion does
        promote(session=session, version_id=trained["seq2seq-direct"])
    app.state.dispatcher.on_finish("retrain", 1)  # type: ignore[attr-defined]
    assert sorted(app.state.caches.models.loaded) == sorted(  # type: ignore[attr-defined]
        [trained["gru-recursive"], trained["seq2seq-direct"], trained["ibm-recursive"]]
    )


def test_each_version_carries_its_variant_label(
    client: TestClient, trained: dict[str, int]
) -> None:
    models = client.get("/api/v1/models").json()["data"]
    labels = {m["id"]: m["label"] for m in models}
    assert labels[trained["gru-direct"]] == "gru"
    assert labels[trained["seq2seq-direct"]] == "seq2seq-attention"  # step-wise, no segments
    detail = client.get(f"/api/v1/models/{trained['gru-direct']}").json()
    assert detail["label"] == "gru"
