"""An unknown query parameter is a 422 that names the valid ones (api/params.py), on every API
route: a typo must not read as a filter that matched everything."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize(
    ("path", "valid"),
    [
        ("/api/v1/series?seris=AAPL", "none"),
        ("/api/v1/models?serie=AAPL&status=champion", "series, status"),
        ("/api/v1/runs?limt=5", "limit"),
        ("/api/v1/forecasts/AAPL?format=csv", "horizon"),
    ],
)
def test_an_unknown_query_parameter_is_a_422_naming_the_valid_ones(
    client: TestClient, path: str, valid: str
) -> None:
    r = client.get(path)
    assert r.status_code == 422, r.text
    unknown = path.split("?")[1].split("&")[0].split("=")[0]
    detail = r.json()["detail"]
    assert f"unknown query parameter '{unknown}'" in detail
    assert "valid: " in detail and valid in detail, detail


def test_known_parameters_and_the_page_still_answer(client: TestClient) -> None:
    assert client.get("/api/v1/runs?limit=5").status_code == 200
    assert client.get("/api/v1/models?status=champion").status_code == 200
    assert client.get("/?series=AAPL").status_code == 200  # the page reads its own query


def test_every_api_read_refuses_an_unknown_parameter(client: TestClient) -> None:
    """Each GET operation of the schema, its path parameters filled: a 422 for ?zz=1."""
    paths = client.get("/openapi.json").json()["paths"]
    reads = [p for p, ops in paths.items() if p.startswith("/api/") and "get" in ops]
    assert len(reads) >= 8, reads
    for path in reads:
        url = re.sub(r"\{[^}]+_id\}", "1", path)
        url = re.sub(r"\{[^}]+\}", "AAPL", url)
        r = client.get(url + "?zz=1")
        assert r.status_code == 422 and "unknown query parameter 'zz'" in r.text, (url, r.text)
