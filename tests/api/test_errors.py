"""Domain errors as HTTP words them: the domain's text names no route, the API adds its own
hint from the error's fields, byte for byte what it answered before errors carried fields."""

from __future__ import annotations

import pytest

from api.errors import http_hint, status_of
from forecaster.errors import (
    BadModelRef,
    ForecasterError,
    HorizonTooLong,
    InvalidRequest,
    LevelOutOfRange,
    NoChampion,
    SeriesExists,
    UnknownModel,
    UnknownRun,
    UnknownSeries,
)

RETRAIN = '{"kind": "retrain", "series": ["IBM"]}'


@pytest.mark.parametrize(
    ("error", "status", "domain", "http"),
    [
        (
            UnknownSeries(key="NOPE", known=["AAPL", "IBM"]),
            404,
            "unknown series 'NOPE'; known series: AAPL, IBM",
            "unknown series 'NOPE'; known series: AAPL, IBM (GET /api/v1/series lists them)",
        ),
        (
            UnknownSeries(key="nope"),
            404,
            "unknown series 'nope'; no series are stored yet",
            "unknown series 'nope'; no series are stored yet (GET /api/v1/series lists them)",
        ),
        (
            UnknownModel(version_id=9999),
            404,
            "unknown model version 9999",
            "unknown model version 9999; GET /api/v1/models lists the versions",
        ),
        (
            UnknownModel(version_id=3, series_key="IBM"),
            404,
            "model version 3 belongs to another series, not 'IBM'",
            "model version 3 belongs to another series, not 'IBM'; "
            "GET /api/v1/models?series=IBM lists this series' versions",
        ),
        (
            UnknownRun(run_id=999),
            404,
            "unknown run id 999",
            "unknown run id 999; GET /api/v1/runs lists recent runs",
        ),
        (
            NoChampion(series_key="IBM", strategy="recursive"),
            409,
            "series 'IBM' has no recursive champion yet; train one first",
            "series 'IBM' has no recursive champion yet; train one with "
            f"`forecaster train IBM --strategy recursive` or POST /api/v1/runs {RETRAIN}",
        ),
        (
            SeriesExists(key="AAPL", source="yahoo", params={"ticker": "AAPL"}),
            409,
            "series 'AAPL' already exists (source yahoo, params {'ticker': 'AAPL'}); "
            "pick another key",
            "series 'AAPL' already exists (source yahoo, params {'ticker': 'AAPL'}); pick "
            'another key, or update its data with POST /api/v1/runs {"kind": "ingest", '
            '"series": ["AAPL"]}',
        ),
        (
            BadModelRef(model="abc", max_id=2147483647),
            422,
            "model='abc' is neither 'champion' nor a model version id (1..2147483647)",
            "model='abc' is neither 'champion' nor a model version id "
            "(1..2147483647; `forecaster models` or GET /api/v1/models lists them)",
        ),
        (
            HorizonTooLong(horizon=6, cap=5, strategy="direct"),
            422,
            "horizon=6 exceeds this direct model's H=5; use strategy=recursive or horizon<=5",
            "horizon=6 exceeds this direct model's H=5; use strategy=recursive or horizon<=5",
        ),
        (
            LevelOutOfRange(level=1.5),
            422,
            "level=1.5 must be in (0, 1)",
            "level=1.5 must be in (0, 1)",
        ),
        (InvalidRequest("as made"), 422, "as made", "as made"),  # a plain message, as it is
        (UnknownModel("no weights"), 404, "no weights", "no weights"),
    ],
)
def test_domain_text_names_no_route_and_http_adds_its_hint(
    error: ForecasterError, status: int, domain: str, http: str
) -> None:
    assert str(error) == domain and "/api/v1" not in domain
    assert error.render(http_hint(error)) == http
    assert status_of(error) == status
