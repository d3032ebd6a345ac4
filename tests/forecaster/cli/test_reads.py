"""The CLI's read commands as a user meets them: fast to start (no torch, no Prefect imported),
saying what matters (metrics beside baselines, skill), listing every run, one-line errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from flows.leases import train_recorded
from forecaster.app.training import TrainRequest, precompute_forecasts
from forecaster.cli.main import main
from forecaster.cli.retrain import print_outcome, variant_labels
from forecaster.config import Settings
from forecaster.db import observations as observations_db
from forecaster.db import series as series_db
from forecaster.db.forecast_cache import forecast_key, read_forecast
from forecaster.db.models import ForecastPoint
from forecaster.db.session import (
    _file_head,
    current_revision,
    head_revision,
    make_engine,
    make_session_factory,
    upgrade,
)
from forecaster.sources.csv import load_sample
from forecaster.spec import ModelSpec

HEAVY = (
    "torch",
    "prefect",
    "flows",
    "sklearn",
    "forecaster.forecasting",
    "forecaster.app.training",
)

# Runs one CLI command in a fresh interpreter, then reports which heavy modules it imported.
PROBE = f"""
import json, sys
from forecaster.cli.main import main
code = main(sys.argv[1:])
heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)
print("PROBE " + json.dumps({{"code": code, "heavy": heavy}}))
"""


def _spec(strategy: str) -> ModelSpec:
    return ModelSpec(
        architecture="gru",
        strategy=strategy,
        lookback=28,
        horizon=7,
        targets=("close",),
        hidden_size=8,
        num_layers=1,
        epochs=2,
        batch_size=64,
        stride=2,
    )


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database as the demo leaves it: AAPL with a GRU champion per strategy (each trained
    through train_recorded, so each is a `train` run) and their forecasts stored by the forecast
    flow's function; IBM registered with no data yet."""
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'reads.db'}"
    upgrade(url)
    factory = make_session_factory(url)
    with factory.begin() as session:
        aapl = series_db.register_series(
            session=session, key="AAPL", source="csv", params={"sample": "AAPL.csv"}, frequency="B"
        )
        observations_db.upsert_observations(
            session=session, series_id=aapl.id, frame=load_sample("AAPL")
        )
        series_db.register_series(
            session=session, key="IBM", source="csv", params={"sample": "IBM.csv"}, frequency="B"
        )
    for strategy in ("direct", "recursive"):
        request = TrainRequest("AAPL", _spec(strategy), promote=True, origins=20)
        train_recorded(factory, request, threads=1)
    with factory.begin() as session:
        precompute_forecasts(session=session, series_key="AAPL")
    factory.kw["bind"].dispose()
    yield url


def _probe(url: str, *args: str) -> tuple[dict[str, object], str, str]:
    env = {**os.environ, "FORECASTER_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    lines = done.stdout.splitlines()
    probe = json.loads(lines[-1].removeprefix("PROBE "))
    return probe, "\n".join(lines[:-1]), done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["series"],
        ["models"],
        ["models", "AAPL", "--json"],
        ["runs"],
        ["forecast", "AAPL"],  # the recursive champion's stored forecast
        ["forecast", "AAPL", "--strategy", "direct", "--json"],
    ],
)
def test_read_commands_import_neither_torch_nor_prefect(stored: str, args: list[str]) -> None:
    probe, out, err = _probe(stored, *args)
    assert probe == {"code": 0, "heavy": []}, err
    assert out.strip() and not err.strip()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["forecast", "AAPL", "--level", "95"], "error: level=95.0 must be in (0, 1)\n"),
        (
            ["forecast", "AAPL", "--strategy", "direct", "--horizon", "50"],
            "error: horizon=50 exceeds this direct model's H=7; "
            "use strategy=recursive or horizon<=7\n",
        ),
    ],
)
def test_a_wrong_level_or_horizon_is_refused_before_the_model_loads(
    stored: str, args: list[str], message: str
) -> None:
    probe, _, err = _probe(stored, *args)
    assert probe == {"code": 2, "heavy": []} and err == message


def test_a_forecast_not_stored_runs_the_model(stored: str) -> None:
    # another horizon than the stored one: the model is loaded (torch), and it still answers
    probe, out, _ = _probe(stored, "forecast", "AAPL", "--horizon", "3", "--json")
    assert probe["code"] == 0 and "torch" in probe["heavy"]  # type: ignore[operator]
    assert len(json.loads(out)["points"]) == 3


def test_stored_forecast_reads_as_the_computed_one(
    stored: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The stored answer is the model's own: the same points, coverage and figures."""
    db = ["--database-url", stored]
    assert main([*db, "forecast", "AAPL", "--json"]) == 0
    from_store = json.loads(capsys.readouterr().out)
    factory: sessionmaker[Session] = make_session_factory(stored)
    with factory.begin() as session:
        version = forecast_key(session=session, series_key="AAPL", strategy="recursive")
        assert version is not None
        series = series_db.get_series(session=session, key="AAPL")
        kept = read_forecast(
            session=session,
            version_id=version[0],
            issued_at=observations_db.latest_timestamp(session=session, series_id=series.id),  # type: ignore[arg-type]
            data_revision=series.revision,
        )
        assert kept is not None and kept.coverage_origins == from_store["coverage_origins"] > 0
        session.query(ForecastPoint).delete()  # nothing stored: the model computes it
    assert main([*db, "forecast", "AAPL", "--json"]) == 0
    computed = json.loads(capsys.readouterr().out)
    with factory.begin() as session:
        precompute_forecasts(session=session, series_key="AAPL")  # as it was, for other tests
    factory.kw["bind"].dispose()
    assert computed["points"] and all("coverage" in p for p in computed["points"])
    assert from_store == computed


def test_forecast_prints_the_requested_steps_figures_beside_the_baselines(stored: str) -> None:
    probe, out, _ = _probe(stored, "forecast", "AAPL", "--strategy", "direct")
    assert probe == {"code": 0, "heavy": []}
    lines = out.splitlines()
    assert "backtest errors of this version over steps 1-7, original scale" in out
    header = next(line for line in lines if line.startswith("variable "))
    assert "mase naive" in header and "mae snaive" in header
    assert any(line.startswith("close     all ") for line in lines)
    skill = [line for line in lines[:4] if line.startswith("close: MASE ")]  # the sentence
    assert len(skill) == 1 and "the naive forecast's" in skill[0] and "(steps 1-7)" in skill[0]


def test_series_counts_timestamps_and_values(stored: str) -> None:
    probe, out, _ = _probe(stored, "series", "--json")
    rows = {r["key"]: r for r in json.loads(out)}
    assert probe["code"] == 0
    n_vars = len(rows["AAPL"]["variables"])
    assert (
        rows["AAPL"]["values"]
        == rows["AAPL"]["timestamps"] * n_vars
        == len(load_sample("AAPL")) * n_vars
    )
    assert rows["IBM"]["timestamps"] == rows["IBM"]["values"] == 0
    probe, table, _ = _probe(stored, "series")
    assert table.splitlines()[0].split() == [
        "key",
        "source",
        "frequency",
        "first",
        "last",
        "timestamps",
        "values",
        "variables",
    ]


def test_every_training_run_is_listed(stored: str) -> None:
    probe, out, _ = _probe(stored, "runs", "--json")
    trains = [r for r in json.loads(out) if r["kind"] == "train"]
    assert probe["code"] == 0 and len(trains) == 2
    assert all(r["status"] == "completed" and r["series"] == "AAPL" for r in trains)
    assert all(len(r["result"]["versions"]) == 1 for r in trains)
    _, table, _ = _probe(stored, "runs")
    assert sum(line.split()[1:3] == ["train", "completed"] for line in table.splitlines()) == 2


def test_a_failed_training_run_is_listed_with_its_reason(
    stored: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--database-url", stored]
    assert main([*db, "train", "AAPL", "--targets", "price", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown target 'price'") and err.count("\n") == 1
    assert main([*db, "runs", "--json", "--limit", "1"]) == 0
    (last,) = json.loads(capsys.readouterr().out)
    assert (last["kind"], last["status"]) == ("train", "failed")
    assert "unknown target 'price'" in last["error"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # a version id with a strategy it does not have: refused, not silently ignored
        (
            ["forecast", "AAPL", "--model", "{direct}", "--strategy", "recursive"],
            "error: model version {direct} is a direct model, so strategy=recursive contradicts "
            "it; use strategy=direct or leave strategy out\n",
        ),
        # the hint names the command that lists series, not an HTTP route
        (
            ["forecast", "NOPE"],
            "error: unknown series 'NOPE'; known series: AAPL, IBM (`forecaster series` lists them)\n",
        ),
        (
            ["forecast", "IBM"],
            "error: series 'IBM' has no recursive champion yet; train one with "
            "`forecaster train IBM --strategy recursive` or `forecaster retrain IBM`\n",
        ),
        (
            ["forecast", "AAPL", "--model", "99999"],
            "error: unknown model version 99999; `forecaster models` lists the versions\n",
        ),
        (
            ["runs", "--limit", "0"],
            "error: --limit 0 is not valid; give a positive number of runs to list, e.g. 20\n",
        ),
    ],
)
def test_user_errors_are_one_line_naming_what_is_valid(
    stored: str, args: list[str], message: str
) -> None:
    factory = make_session_factory(stored)
    with factory.begin() as session:
        key = forecast_key(session=session, series_key="AAPL", strategy="direct")
    factory.kw["bind"].dispose()
    assert key is not None
    args = [a.format(direct=key[0]) for a in args]
    probe, out, err = _probe(stored, *args)
    assert probe["code"] == 2 and err == message.format(direct=key[0])
    assert "/api/" not in err and "Traceback" not in err


def test_a_bad_database_url_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("forecaster")), "series"],
        env={**os.environ, "FORECASTER_DATABASE_URL": "nonsense://"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (
        2,
        "error: FORECASTER_DATABASE_URL: database_url='nonsense://': use sqlite:///PATH or "
        "postgresql+psycopg://USER@HOST/DB\n",
    )
    # the same check for --database-url (it was not validated at all)
    probe, _, err = _probe(
        f"sqlite:///{tmp_path / 'x.db'}", "--database-url", "mysql://x", "series"
    )
    assert probe["code"] == 2
    assert err == "error: --database-url: database_url='mysql://x': use sqlite:///PATH or " + (
        "postgresql+psycopg://USER@HOST/DB\n"
    )
    probe, _, err = _probe(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}", "models")
    assert probe["code"] == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: cannot open the database at ") and "unable to open" in err


def test_a_read_migrates_an_old_schema_and_skips_alembic_on_a_current_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0002")
    probe, _, _ = _probe(url, "series")
    assert probe["code"] == 0
    engine = make_engine(url)
    assert current_revision(engine) == head_revision(url) == _file_head()
    engine.dispose()
    script = "import sys; from forecaster.cli.main import main; main(sys.argv[1:]); print('alembic' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", script, "--database-url", url, "runs"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.splitlines()[-1] == "False"  # at head: one query, no Alembic


def test_models_takes_the_series_as_the_api_spells_it(
    stored: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--database-url", stored]
    assert main([*db, "models", "AAPL", "--json"]) == 0
    positional = json.loads(capsys.readouterr().out)
    assert main([*db, "models", "--series", "AAPL", "--json"]) == 0  # as GET /models?series=
    assert json.loads(capsys.readouterr().out) == positional
    assert {v["architecture"] for v in positional} >= {"gru", "naive"}
    assert main([*db, "models", "--series", "IBM", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_runs_and_models_print_times_with_their_zone(stored: str) -> None:
    _, table, _ = _probe(stored, "runs")
    header, *rows = table.splitlines()
    assert header.split()[4:6] == ["started_at", "finished_at"]
    stamp = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")
    assert rows and all(len(stamp.findall(row)) == 2 for row in rows)  # started and finished
    _, out, _ = _probe(stored, "runs", "--json")
    assert all(r["started_at"].endswith("+00:00") for r in json.loads(out))  # as the API
    _, table, _ = _probe(stored, "models", "AAPL")
    assert all(re.search(r"\d\d:\d\d UTC", row) for row in table.splitlines()[1:])


def test_models_and_the_retrain_summary_label_each_variant(
    stored: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, table, _ = _probe(stored, "models", "AAPL")
    header, *rows = table.splitlines()
    assert header.split()[:3] == ["id", "series", "model"]
    assert {row.split()[2] for row in rows} >= {"gru", "naive", "seasonal-naive"}
    _, out, _ = _probe(stored, "models", "AAPL", "--json")
    assert {(v["architecture"], v["label"]) for v in json.loads(out)} >= {("gru", "gru")}

    # the retrain's two seq2seq candidates: one architecture and strategy, two labels
    versions = {v["id"]: v for v in json.loads(out) if v["architecture"] == "gru"}
    candidates = [
        {
            "series": "AAPL",
            "architecture": v["architecture"],
            "strategy": v["strategy"],
            "version_id": i,
            "promoted": False,
            "reason": "kept",
        }
        for i, v in versions.items()
    ]
    settings = Settings.model_validate({"database_url": stored})
    assert variant_labels(settings, candidates) == dict.fromkeys(versions, "gru")
    seq2seq = [{**c, "architecture": "seq2seq_attention"} for c in candidates]
    labels = dict(
        zip(versions, ["seq2seq-attention", "seq2seq-attention (segment 5)"], strict=True)
    )
    print_outcome(
        {"run_id": 9, "candidates": seq2seq, "promoted": [], "failed": [], "served": []},
        labels=labels,
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["series", "model"]
    assert [re.split(r"\s{2,}", line)[1] for line in lines[1:3]] == list(labels.values())
