"""`forecaster replay` and `forecaster accuracy` from a user's seat: a bundled history replayed
day by day through ingest, the scheduled forecast, scoring and the retrain policy, on a real
SQLite file with the real retrain flow (tiny model, three weeks)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from forecaster.cli.main import main
from forecaster.db.models import ForecastLogPoint, Run
from forecaster.db.session import make_session_factory
from forecaster.sources.csv import load_sample

pytestmark = pytest.mark.usefixtures("prefect_harness")

CONFIG = """\
metric: mase
backtest_origins: 20
policy: {window: 3, min_origins: 3, error_margin: 0.0, coverage_floor: 0.99}
defaults: {lookback: 14, horizon: 5, hidden_size: 16, num_layers: 1, epochs: 8, batch_size: 32,
           targets: [tmax], inputs: [tmax, tmin]}
candidates:
  - {architecture: gru, strategy: recursive}
"""


def test_replay_scores_every_served_forecast_and_the_policy_retrains_with_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'replay.db'}"
    config = tmp_path / "tiny.yaml"
    config.write_text(CONFIG)
    args = ["--database-url", url, "replay", "seattle-weather", "--config", str(config)]
    assert main([*args, "--start", "2013-06-01", "--end", "2013-06-10"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("seattle-weather: replayed 10 days from 2013-06-01 (policy); ")
    retrains = int(re.search(r"; (\d+) retrains\n", out).group(1))  # type: ignore[union-attr]
    assert retrains >= 1  # a floor of 99 % coverage cannot hold for long

    factory = make_session_factory(url)
    with factory.begin() as session:
        runs = session.scalars(select(Run).where(Run.kind == "retrain").order_by(Run.id)).all()
        log = pd.DataFrame(
            session.execute(
                select(
                    ForecastLogPoint.origin,
                    ForecastLogPoint.ts,
                    ForecastLogPoint.value,
                    ForecastLogPoint.naive,
                    ForecastLogPoint.actual,
                    ForecastLogPoint.logged_at,
                )
            ).all(),
            columns=["origin", "ts", "value", "naive", "actual", "logged_at"],
        )
    factory.kw["bind"].dispose()
    # every run says who started it and why; the policy's reason is its evidence
    assert [r.trigger for r in runs] == ["replay"] + ["policy"] * retrains
    assert all(r.status == "completed" for r in runs)
    for run in runs[1:]:
        assert re.match(r"recursive champion v\d+ over its last [3-9] scored origins: ", run.reason)
        assert "live coverage" in run.reason or "live MAE" in run.reason
        assert f"retrain run {run.id} [policy] serving recursive v" in out and run.reason in out
    # the first champion's forecast from the eve of the start, then one scheduled forecast a day
    assert log["origin"].nunique() == 11
    # scored exactly where the bundled history has the target's value by the replay's end
    truth = load_sample("seattle-weather")["tmax"]
    observed = log["ts"].map(lambda t: truth.get(pd.Timestamp(t)))
    settled = observed.notna() & (log["ts"] <= pd.Timestamp("2013-06-10"))
    assert (log["actual"].notna() == settled).all() and settled.sum() > 30
    assert (log.loc[settled, "actual"] == observed[settled]).all()
    # the weekly table and the totals: what was served on schedule (the first forecast of each
    # origin), against what happened and against the last value at the origin
    weeks = re.findall(r"^(2013-\d\d-\d\d)\s+recursive\s+(\d+)\s", out, flags=re.M)
    # (the last day's forecast, from Monday 2013-06-10, has nothing to score yet)
    assert [w for w, _ in weeks] == ["2013-05-27", "2013-06-03"]
    assert sum(int(n) for _, n in weeks) == 10
    served = log[settled].sort_values("logged_at").drop_duplicates(["origin", "ts"])
    mae = (served["actual"] - served["value"]).abs().mean()
    naive = (served["actual"] - served["naive"]).abs().mean()
    total = re.search(r"^recursive: live MAE ([\d.]+) vs naive ([\d.]+) \(MASE", out, re.M)
    assert total is not None
    assert float(total.group(1)) == pytest.approx(mae, abs=1e-4)
    assert float(total.group(2)) == pytest.approx(naive, abs=1e-4)

    # the same figures from `forecaster accuracy`
    assert main(["--database-url", url, "accuracy", "seattle-weather", "--steps", "2"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("seattle-weather (recursive): live accuracy of served forecasts\n")
    assert re.search(r"^version \d+ \(\w+, champion\): ", text, re.M)
    assert re.search(r"^tmax\s+all\s+\d+\s+\d", text, re.M)


def test_replay_and_accuracy_refuse_bad_input_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--database-url", f"sqlite:///{tmp_path / 'bad.db'}"]
    assert main([*db, "replay", "NOPE", "--start", "2013-01-01"]) == 2
    assert capsys.readouterr().err == (
        "error: no bundled history 'NOPE' to replay; bundled: AAPL, IBM, seattle-weather\n"
    )
    assert main([*db, "replay", "IBM", "--start", "1990-01-01"]) == 2
    assert capsys.readouterr().err.startswith(
        "error: start=1990-01-01 must fall inside the history (2000-03-01 .. 2013-03-01)"
    )
    assert main([*db, "accuracy", "IBM"]) == 2
    assert "unknown series 'IBM'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*db, "accuracy", "IBM", "--steps", "0"])
    assert "'0' is not a positive whole number" in capsys.readouterr().err
