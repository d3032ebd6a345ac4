"""POST /api/v1/series/{key}/csv: a CSV uploaded as the body, checked and worded as the CLI's
`ingest csv`, stored and recorded as an ingest run in one transaction, size-capped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.main import create_app
from forecaster.cli.main import main
from forecaster.config import Settings
from tests.api.conftest import AUTH

URL = "/api/v1/series/sales/csv"
CSV = {"Content-Type": "text/csv", **AUTH}
DAYS = pd.date_range("2024-01-01", periods=30, freq="D")
GOOD = "date,units,note\n" + "".join(
    f"{d:%Y-%m-%d},{i % 7},{'promo' if i % 3 else 'plain'}\n" for i, d in enumerate(DAYS)
)


def upload(client: TestClient, body: str | bytes, **params: str) -> dict[str, Any]:
    response = client.post(URL, content=body, headers=CSV, params=params)
    return {"status": response.status_code, **response.json()}


def test_an_uploaded_csv_is_stored_and_recorded_as_an_ingest_run(client: TestClient) -> None:
    out = upload(client, GOOD)
    assert out["status"] == 201
    assert out["values"] == 30 and out["dropped"] == ["note"]  # text-only: left out, said so
    series = out["series"]
    assert (series["key"], series["source"], series["frequency"]) == ("sales", "csv", "D")
    assert series["params"] == {"upload": True} and series["timestamps"] == 30
    run = client.get(f"/api/v1/runs/{out['run_id']}", headers=AUTH).json()
    assert (run["kind"], run["status"], run["trigger"]) == ("ingest", "completed", "api")
    assert run["result"] == {"rows": {"sales": 30}, "errors": {}}
    page = client.get("/api/v1/series/sales/observations", params={"limit": 3}).json()
    assert [(r["ts"][:10], r["value"]) for r in page["data"]] == [
        ("2024-01-01", 0.0),
        ("2024-01-02", 1.0),
        ("2024-01-03", 2.0),
    ]


def test_uploading_again_duplicates_nothing_and_a_revision_revises(client: TestClient) -> None:
    first = upload(client, GOOD)
    again = upload(client, GOOD)
    assert again["status"] == 201 and again["run_id"] != first["run_id"]
    assert again["series"]["values"] == first["series"]["values"] == 30
    revised = GOOD.replace("2024-01-30,1,", "2024-01-30,9,") + "2024-01-31,4,plain\n"
    assert upload(client, revised)["series"]["values"] == 31
    page = client.get(
        "/api/v1/series/sales/observations", params={"start": "2024-01-30", "limit": 5}
    ).json()
    assert [(r["ts"][:10], r["value"]) for r in page["data"]] == [
        ("2024-01-30", 9.0),
        ("2024-01-31", 4.0),
    ]


def test_the_cli_options_are_query_parameters(client: TestClient) -> None:
    hours = pd.date_range("2024-03-01", periods=5, freq="h")
    body = "day,x\n" + "".join(f"{d:%Y-%m-%d %H:%M},{i}\n" for i, d in enumerate(hours))
    out = upload(client, body, time_column="day", freq="h")
    assert out["status"] == 201 and out["series"]["frequency"] == "h"
    assert out["series"]["params"] == {"upload": True, "time_column": "day"}


HUGE = "x" * 300_000


@pytest.mark.parametrize(
    ("body", "params"),
    [
        ("", {}),  # empty
        ("date,value\n", {}),  # a header only
        ("when,value\n1,2\n3,4\n", {}),  # no time column
        ("date,value\n2024-01-01,1\nsoon,2\n", {}),  # not a date
        ("date,value\n1600-01-01,1\n1600-01-02,2\n", {}),  # before 1677
        ("date,value\n2024-01-01,1\n2024-01-02,x\n2024-01-03,3\n", {}),  # stray text
        ("date,value\n2024-01-01,1\n2024-01-02,inf\n", {}),  # infinite
        ("date,note\n2024-01-01,a\n2024-01-02,b\n", {}),  # no numeric column
        ("date,value\n2024-01-01,1\n2024-01-02,\n", {}),  # a gap: both take it
        ("date,value\n2024-01-01,1\n", {}),  # one row: no frequency to infer
        ("date,value\n2024-01-01,1\n2024-01-02,2\n", {"freq": "fortnightly"}),  # bad freq
        ("date,value\n2024-01-01,1\n2024-01-02,2\n", {"time_column": "day"}),  # not a column
        (f"date,value\n2024-01-01,1\n2024-01-02,{HUGE}\n", {}),  # a huge field, clipped
    ],
)
def test_each_refusal_is_the_clis_with_422_and_stores_nothing(
    client: TestClient,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    body: str,
    params: dict[str, str],
) -> None:
    path = tmp_path / "sales.csv"
    path.write_text(body)
    argv = [f"--{k.replace('_', '-')}={v}" for k, v in params.items()]
    db = ["--database-url", f"sqlite:///{tmp_path / 'cli.db'}"]
    status = main([*db, "ingest", "csv", str(path), "--key", "sales", *argv])
    cli_error = capsys.readouterr().err
    response = client.post(URL, content=body, headers=CSV, params=params)
    if status == 0:  # the CLI took it (a gap is a gap): so does the API
        assert response.status_code == 201
        return
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert f"error: {detail}\n" == cli_error.replace(f"'{path}'", "'request body'")
    assert len(detail) < 1_000  # a field is echoed clipped (~120 characters), never whole
    assert client.get("/api/v1/series/sales").status_code == 404  # nothing registered
    assert client.get("/api/v1/runs").json()["count"] == 0  # nor recorded


def test_an_all_empty_numeric_column_is_refused(client: TestClient) -> None:
    out = upload(client, "date,value\n2024-01-01,\n2024-01-02,\n")
    assert out == {
        "status": 422,
        "detail": "CSV for series 'sales' has no value in any numeric column: every field is "
        "empty; a series needs at least one value",
    }
    assert client.get("/api/v1/series/sales").status_code == 404


@pytest.fixture
def small_client(database_url: str) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, api_key=SecretStr("test"), max_upload_mb=0.0004)
    with TestClient(create_app(settings)) as c:
        yield c


def test_a_body_over_the_limit_is_413_declared_or_streamed(small_client: TestClient) -> None:
    body = GOOD.encode()  # 586 bytes: over the 400-byte limit
    expected = (
        "the CSV is over the upload limit of 0.0004 MB (FORECASTER_MAX_UPLOAD_MB on the server): "
        "split the file and upload the parts (each upload adds to the series)"
    )
    declared = small_client.post(URL, content=body, headers=CSV)
    streamed = small_client.post(URL, content=iter([body[:300], body[300:]]), headers=CSV)
    for response in (declared, streamed):
        assert (response.status_code, response.json()) == (413, {"detail": expected})
    assert small_client.get("/api/v1/series/sales").status_code == 404
    under = body[: body.rindex(b"\n", 0, 400) + 1]
    assert small_client.post(URL, content=under, headers=CSV).status_code == 201


def test_the_upload_needs_the_api_key(client: TestClient) -> None:
    missing = client.post(URL, content=GOOD, headers={"Content-Type": "text/csv"})
    wrong = client.post(URL, content=GOOD, headers={"Content-Type": "text/csv", "X-API-Key": "no"})
    assert missing.status_code == 401 and wrong.status_code == 403
    assert missing.json() == {"detail": "missing API key: send it in the X-API-Key header"}
    assert client.get("/api/v1/series/sales").status_code == 404


def test_a_multipart_form_is_415_with_the_way_to_send_it(client: TestClient) -> None:
    response = client.post(URL, files={"file": ("sales.csv", GOOD)}, headers=AUTH)
    assert response.status_code == 415
    assert "curl --data-binary @FILE.csv" in response.json()["detail"]


def test_a_bad_key_is_422(client: TestClient) -> None:
    response = client.post("/api/v1/series/sa%20les/csv", content=GOOD, headers=CSV)
    assert response.status_code == 422


def test_the_openapi_schema_describes_the_csv_body(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/api/v1/series/{series_key}/csv"]
    body = operation["post"]["requestBody"]
    assert body["content"] == {"text/csv": {"schema": {"type": "string", "format": "binary"}}}
    names = {p["name"] for p in operation["post"]["parameters"]}
    assert {"series_key", "time_column", "freq"} <= names


def test_an_uploaded_series_has_nothing_to_fetch() -> None:
    from forecaster.sources.csv import CsvSource

    assert CsvSource().fetch({"upload": True, "time_column": "day"}, None, None).empty
