"""Anonymous forecast reads are bounded: horizon caps per strategy, and a small compute pool
for cache misses that never makes a cached read wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.main import create_app
from forecaster.app.forecasts import version_limits
from forecaster.checks import check_horizon
from forecaster.config import Settings
from forecaster.errors import HorizonTooLong
from forecaster.forecasting.predictor import TrainedModel

URL = "/api/v1/forecasts/seattle-weather"


@pytest.fixture
def small_pool_client(database_url: str, trained: dict[str, int]) -> Iterator[TestClient]:
    """One forecast worker, a short wait, a recursive cap of 50 steps (champions stored first)."""
    assert trained
    settings = Settings(
        database_url=database_url,
        api_key=SecretStr("test"),
        forecast_workers=1,
        forecast_queue_wait_s=0.2,
        forecast_max_horizon=50,
    )
    with TestClient(create_app(settings)) as c:
        yield c


def test_horizon_caps_per_strategy(small_pool_client: TestClient, trained: dict[str, int]) -> None:
    c = small_pool_client
    reach = c.get(URL).json()["max_horizon"]  # the version's own limit, within the cap of 50
    assert len(c.get(URL, params={"horizon": reach}).json()["points"]) == reach
    beyond = c.get(URL, params={"horizon": reach + 1})
    assert beyond.status_code == 422 and "maximum horizon" in beyond.json()["detail"]
    r = c.get(URL, params={"horizon": 51})
    assert r.status_code == 422
    assert r.json() == {
        "detail": "horizon=51 exceeds the limit of 50 steps for a recursive forecast; "
        "give horizon between 1 and 50"
    }
    r = c.get(URL, params={"horizon": 6, "model": trained["gru-direct"]})
    assert r.status_code == 422
    assert r.json()["detail"].startswith("horizon=6 exceeds this direct model's H=5")

    factory = c.app.state.session_factory  # type: ignore[attr-defined]
    from forecaster.app import catalog

    with factory.begin() as session:
        direct = catalog.get_version(session=session, version_id=trained["gru-direct"])
        recursive = catalog.get_version(session=session, version_id=trained["gru-recursive"])
        assert version_limits(direct).max_horizon == 5
        with pytest.raises(HorizonTooLong, match="the limit of 50 steps"):
            check_horizon(51, version_limits(recursive), recursive_cap=50)


def test_saturated_pool_refuses_misses_with_503_and_still_answers_cached_reads(
    small_pool_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = small_pool_client
    pool = c.app.state.compute_pool  # type: ignore[attr-defined]
    cached = c.get(URL, params={"horizon": 5, "level": 0.8})
    assert cached.status_code == 200
    reach = cached.json()["max_horizon"]  # the version's own limit (within the configured 50)

    # Hold the one worker: the model blocks until the test lets it go.
    release, entered = threading.Event(), threading.Event()
    predict = TrainedModel.predict

    def gated(self: TrainedModel, *args: Any, **kwargs: Any) -> Any:
        entered.set()
        assert release.wait(30), "the test never released the model"
        return predict(self, *args, **kwargs)

    monkeypatch.setattr(TrainedModel, "predict", gated)
    with ThreadPoolExecutor(8) as ex:
        holder = ex.submit(c.get, URL, params={"horizon": reach, "level": 0.5})
        assert entered.wait(30) and pool.running == 1
        # more misses (other levels, as an abuser varies them): refused once the short wait ends
        excess = [
            ex.submit(c.get, URL, params={"horizon": reach, "level": lv}) for lv in (0.6, 0.7)
        ]
        refused = [f.result(timeout=30) for f in excess]
        for r in refused:
            assert r.status_code == 503
            assert r.headers["Retry-After"] == "1"
            assert r.json()["detail"] == (
                "all 1 forecast workers are busy computing forecasts that were not cached; "
                "retry in 1 s (cached forecasts are answered at once)"
            )
        # /metrics shows the pool at work while it is saturated
        text = c.get("/metrics").text
        assert "forecaster_compute_pool_size 1.0" in text
        assert "forecaster_compute_pool_busy 1.0" in text
        assert "forecaster_compute_pool_refused_total 2.0" in text
        # a cached read, also through the database lookup (memo cleared), is answered now
        c.app.state.caches.invalidate()  # type: ignore[attr-defined]
        began = time.monotonic()
        again = c.get(URL, params={"horizon": 5, "level": 0.8})
        assert again.status_code == 200 and again.content == cached.content
        assert time.monotonic() - began < 5  # generous: it did not wait for the worker
        assert pool.running == 1 and not holder.done()
        release.set()
        held = holder.result(timeout=60)
    assert held.status_code == 200 and len(held.json()["points"]) == reach
    assert pool.running == 0 and pool.refused == 2
    # the worker is free again: a new miss is computed
    assert c.get(URL, params={"horizon": reach, "level": 0.6}).status_code == 200
