"""Operations: /health, /metrics, /docs, and refusing to start on a schema behind the code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.main import SchemaBehind, create_app
from forecaster.config import Settings
from forecaster.db.session import head_revision


def test_health_reports_database_migrations_and_models(
    client: TestClient, database_url: str
) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {
        "status": "ok",
        "database": True,
        "migrations_current": True,
        "schema_revision": head_revision(database_url),
        "head_revision": head_revision(database_url),
        "models_loaded": 0,
        "detail": None,
    }


def test_metrics_count_requests_per_route_template(client: TestClient) -> None:
    client.get("/api/v1/series/AAPL")
    client.get("/api/v1/series/TSLA")
    client.get("/health")
    text = client.get("/metrics").text
    assert (
        'forecaster_http_requests_total{method="GET",route="/api/v1/series/{series_key}",'
        'status="404"} 2.0' in text
    )
    assert 'forecaster_http_requests_total{method="GET",route="/health",status="200"} 1.0' in text
    assert (
        'forecaster_http_request_duration_seconds_count{method="GET",'
        'route="/api/v1/series/{series_key}"} 2.0' in text
    )
    assert "# TYPE forecaster_forecast_cache_total counter" in text
    assert "# TYPE forecaster_last_run_timestamp_seconds gauge" in text
    assert 'forecaster_runs_active{kind="retrain",status="pending"} 0.0' in text


def test_metrics_count_active_runs(client: TestClient, session_factory: Any) -> None:
    from forecaster.app import runs
    from tests.api.conftest import store_sample

    store_sample(session_factory, rows=10)
    with session_factory.begin() as session:
        runs.claim(
            session=session,
            kind="retrain",
            series=["seattle-weather"],
            parameters={"series": ["seattle-weather"]},
            policy=runs.LeasePolicy(),
            exclusive=True,
        )
    text = client.get("/metrics").text
    assert 'forecaster_runs_active{kind="retrain",status="pending"} 1.0' in text
    assert 'forecaster_runs_active{kind="ingest",status="running"} 0.0' in text


def test_openapi_names_the_schemas(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    schemas = set(spec["components"]["schemas"])
    assert {
        "SeriesPublic",
        "SeriesList",
        "ObservationsPage",
        "ForecastPublic",
        "ModelPublic",
        "ModelList",
        "RunPublic",
        "RunList",
        "RunCreate",
    } <= schemas
    paths = set(spec["paths"])
    assert {
        "/api/v1/series",
        "/api/v1/series/{series_key}",
        "/api/v1/series/{series_key}/observations",
        "/api/v1/forecasts/{series_key}",
        "/api/v1/models",
        "/api/v1/models/{version_id}",
        "/api/v1/models/{version_id}/promote",
        "/api/v1/runs",
        "/api/v1/runs/{run_id}",
        "/health",
        "/metrics",
    } <= paths
    promote = spec["paths"]["/api/v1/models/{version_id}/promote"]["post"]
    assert promote["security"] == [{"APIKeyHeader": []}]
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    assert "security" not in spec["paths"]["/api/v1/series"]["get"]  # reads are open


def test_unknown_routes_say_where_the_api_is(client: TestClient) -> None:
    r = client.get("/api/v2/series")
    assert r.status_code == 404
    assert r.json() == {"detail": "no such route; the API lives under /api/v1 (see /docs)"}


def test_the_app_refuses_a_schema_behind_the_code(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"  # never migrated
    app = create_app(Settings(database_url=url, api_key=SecretStr("test")))
    with pytest.raises(SchemaBehind) as err:
        with TestClient(app):
            pass
    assert str(err.value) == (
        f"database schema is at revision None, this code needs {head_revision(url)}: "
        f"run `forecaster db upgrade` (FORECASTER_DATABASE_URL={url})"
    )


def test_an_unreachable_database_is_503_on_health_not_a_crash() -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    with TestClient(create_app(Settings(database_url=url))) as client:
        r = client.get("/health")
        assert r.status_code == 503
        body = r.json()
        assert body["status"] == "unavailable" and body["database"] is False
        assert body["detail"] == "database unreachable: check FORECASTER_DATABASE_URL"
