"""A retrain whose config names a group: the global model competes with each member's own
candidate for that member's champion, and the API shows which versions are global."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from flows.retrain import retrain
from forecaster.app import catalog
from forecaster.config import Settings
from forecaster.db import series as series_db
from tests.api.conftest import TestClient
from tests.groups import store_group

pytestmark = pytest.mark.usefixtures("prefect_harness")

MEMBERS = ["chicago", "gainesville"]


def test_a_group_trains_once_and_competes_for_each_members_champion(
    tmp_path: Path, database_url: str, session_factory: sessionmaker[Session]
) -> None:
    store_group(session_factory, "stations", MEMBERS)
    config = tmp_path / "groups.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "backtest_origins": 20,
                "defaults": {
                    "lookback": 28,
                    "horizon": 7,
                    "hidden_size": 16,
                    "num_layers": 1,
                    "epochs": 6,
                    "lr": 0.005,
                    "targets": ["tmax"],
                },  # fmt: skip
                "candidates": [{"architecture": "gru", "strategy": "direct"}],
                "groups": {"stations": {"frequency": "D", "embedding_dim": 3}},
            }
        )
    )
    out = retrain(series=MEMBERS, database_url=database_url, config_path=str(config)).to_json()
    assert out["failed"] == [] and len(out["candidates"]) == 4  # 2 own + 1 global x 2 members
    own = {c["series"]: c for c in out["candidates"] if not c.get("group")}
    shared = {c["series"]: c for c in out["candidates"] if c.get("group") == "stations"}
    assert set(own) == set(shared) == set(MEMBERS)
    assert len({c["global_model_id"] for c in shared.values()}) == 1  # registered once
    with session_factory.begin() as session:
        for key in MEMBERS:
            series = series_db.get_series(session=session, key=key)
            champion = catalog.get_champion(session=session, series_id=series.id, strategy="direct")
            winners = [c for c in (own[key], shared[key]) if c["promoted"]]
            if winners:  # the better of the two (each beat the baselines and the old champion)
                best = min(winners, key=lambda c: c["candidate_score"])
                assert champion.id == best["version_id"]
            else:
                assert champion.architecture in ("naive", "seasonal_naive")
    settings = Settings(database_url=database_url, api_key=SecretStr("test"))
    with TestClient(create_app(settings)) as client:
        for key in MEMBERS:
            listed = client.get("/api/v1/models", params={"series": key}).json()["data"]
            mine = [m for m in listed if m["global_model"] is not None]
            assert [m["id"] for m in mine] == [shared[key]["version_id"]]
            assert mine[0]["global_model"]["group"] == "stations"
            assert mine[0]["global_model"]["members"] == MEMBERS
            assert mine[0]["global_model"]["embedding_dim"] == 3
            plain = next(m for m in listed if m["id"] == own[key]["version_id"])
            assert plain["global_model"] is None
            resp = client.get(
                f"/api/v1/forecasts/{key}",
                params={"strategy": "direct", "model": shared[key]["version_id"]},
            )
            assert resp.status_code == 200, resp.text
            body = resp.json()
            assert body["model"]["global_model"]["group"] == "stations"
            assert [p["step"] for p in body["points"]] == list(range(1, 8))
