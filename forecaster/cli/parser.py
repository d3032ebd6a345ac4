"""The command line: every command's arguments and the handler that runs it.

Start-up matters here: the module imports only the standard library, settings and errors, and
each command imports what it needs. Read commands (`series`, `models`, `runs`, `forecast` of a
stored forecast) never import torch or Prefect (tests/forecaster/cli/test_reads.py checks;
bench/cli.py times them); a new command should import its heavy modules inside its handler.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from forecaster.cli.accuracy import cmd_accuracy
from forecaster.cli.args import (
    Parser,
    Version,
    command,
    iso_date,
    json_flag,
    lat_lon,
    names_a_file,
    positive_int,
)
from forecaster.cli.completion import INSTALL, SHELLS, cmd_completion
from forecaster.cli.forecast import cmd_forecast
from forecaster.cli.ingest import cmd_ingest
from forecaster.cli.reads import cmd_models, cmd_runs, cmd_series
from forecaster.cli.replay import cmd_replay
from forecaster.cli.retrain import cmd_retrain
from forecaster.cli.serve import cmd_db_upgrade, cmd_demo, cmd_serve
from forecaster.cli.train import add_train

DESCRIPTION = """Forecast time series with LSTM, GRU and seq2seq-attention models: ingest data,
train and compare models against naive baselines, forecast with intervals, retrain on a
schedule, and serve it all over HTTP."""

EPILOG = """examples:
  forecaster demo                        bundled data, quick models, the API on :8000
  forecaster ingest yahoo MSFT           daily prices of a ticker
  forecaster train MSFT --arch gru --strategy direct --horizon 10
  forecaster forecast MSFT --horizon 5   the champion's forecast with its intervals
  forecaster models --series MSFT        every version trained on MSFT
  forecaster retrain MSFT --quick        train the configured candidates, briefly

`forecaster COMMAND --help` describes a command's options."""

Subparsers = Any  # argparse's _SubParsersAction


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="forecaster", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action=Version)
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="database to use, e.g. sqlite:///forecaster.db (default: FORECASTER_DATABASE_URL)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands = [_db, _ingest, _series, add_train, _forecast, _models, _retrain, _runs, _accuracy]
    for add in [*commands, _replay, _serve, _demo]:  # the order `forecaster --help` lists
        add(sub)
    _completion(sub, parser)
    return parser


def _db(sub: Subparsers) -> None:
    db = command(sub, "db", "manage the database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser(
        "upgrade",
        help="migrate the database to the newest schema",
        description="Migrate the database to the newest schema (safe to repeat).",
    ).set_defaults(handler=cmd_db_upgrade)


INGEST_EXAMPLES = """examples:
  forecaster ingest sample
  forecaster ingest yahoo AAPL MSFT --start 2020-01-01
  forecaster ingest meteostat --station 72509 --key boston-weather
  forecaster ingest meteostat --point 47.61,-122.33 --key seattle
  forecaster ingest csv sales.csv --key sales --time-column day --freq D"""


def _ingest(sub: Subparsers) -> None:
    ing = command(sub, "ingest", "fetch data into the database", INGEST_EXAMPLES)
    ing_sub = ing.add_subparsers(dest="ingest_kind", required=True, metavar="SOURCE")
    ing_sub.add_parser(
        "sample",
        help="the bundled real sample (stocks and weather)",
        description="Store the bundled sample: AAPL and IBM daily prices, Seattle's weather.",
    )
    y = ing_sub.add_parser(
        "yahoo",
        help="daily prices of one or more tickers from Yahoo Finance",
        description="Daily prices of one or more tickers from Yahoo Finance.",
    )
    y.add_argument("tickers", nargs="+", metavar="TICKER", help="e.g. AAPL (also the series key)")
    y.add_argument(
        "--start",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="first date (default: continue from the last stored day)",
    )
    m = ing_sub.add_parser(
        "meteostat",
        help="daily weather for a station or a point from Meteostat",
        description="Daily weather for a station or a point from Meteostat.",
    )
    where = m.add_mutually_exclusive_group(required=True)
    where.add_argument("--station", help="Meteostat station id, e.g. 72509")
    where.add_argument("--point", type=lat_lon, metavar="LAT,LON", help="e.g. 47.61,-122.33")
    m.add_argument("--key", required=True, help="series key to store it under, e.g. boston-weather")
    m.add_argument(
        "--start",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="first date (default: continue from the last stored day)",
    )
    c = ing_sub.add_parser(
        "csv",
        help="a tidy CSV: a time column and numeric columns",
        description="A tidy CSV file: a time column and one numeric column per variable.",
    )
    names_a_file(c.add_argument("path", help="the CSV file on this machine"))
    c.add_argument("--key", required=True, help="series key to store it under, e.g. sales")
    c.add_argument(
        "--time-column",
        metavar="NAME",
        help="the time column (default: one named date, time, timestamp, ts or datetime, "
        "else the first)",
    )
    c.add_argument(
        "--freq", help="pandas frequency alias: B, D, h, ... (default: inferred from the file)"
    )
    ing.set_defaults(handler=cmd_ingest)


def _series(sub: Subparsers) -> None:
    s = command(sub, "series", "list stored series")
    json_flag(s)
    s.set_defaults(handler=cmd_series)


FORECAST_EXAMPLES = """examples:
  forecaster forecast AAPL
  forecaster forecast AAPL --strategy direct --level 0.8 --json
  forecaster forecast AAPL --model 12 --horizon 5"""


def _forecast(sub: Subparsers) -> None:
    f = command(
        sub, "forecast", "forecast a series with its champion (or --model ID)", FORECAST_EXAMPLES
    )
    f.add_argument("key", metavar="KEY", help="a stored series")
    f.add_argument("--horizon", type=int, help="steps ahead (default: the model's own horizon)")
    f.add_argument(
        "--strategy",
        choices=["recursive", "direct"],
        help="whose champion (default: recursive for the champion, the version's own with "
        "--model ID)",
    )
    f.add_argument(
        "--model",
        default="champion",
        metavar="ID",
        help="'champion' or a model version id (`forecaster models KEY` lists them)",
    )
    f.add_argument(
        "--level", type=float, help="interval level, e.g. 0.9 (default: the model's own)"
    )
    json_flag(f)
    f.set_defaults(handler=cmd_forecast)


def _models(sub: Subparsers) -> None:
    mo = command(
        sub,
        "models",
        "list model versions",
        "examples:\n  forecaster models\n  forecaster models AAPL --json\n  forecaster models --series AAPL",
    )
    which = mo.add_mutually_exclusive_group()
    which.add_argument("key", nargs="?", metavar="KEY", help="only this series' versions")
    which.add_argument(  # the API's ?series=KEY
        "--series", metavar="KEY", help="the same as KEY: only this series' versions"
    )
    json_flag(mo)
    mo.set_defaults(handler=cmd_models)


RETRAIN_EXAMPLES = """examples:
  forecaster retrain                 every stored series, every configured candidate
  forecaster retrain AAPL IBM --quick
  forecaster retrain --config my-retrain.yaml"""


def _retrain(sub: Subparsers) -> None:
    r = command(
        sub, "retrain", "run the retrain flow (all series, or the keys given)", RETRAIN_EXAMPLES
    )
    r.add_argument("keys", nargs="*", metavar="KEY", help="series to retrain (default: all)")
    names_a_file(
        r.add_argument(
            "--config",
            metavar="YAML",
            help="retrain config: candidates and policy (default: FORECASTER_RETRAIN_CONFIG or "
            "the bundled one)",
        )
    )
    r.add_argument(
        "--quick", action="store_true", help="the config's quick settings (brief training)"
    )
    r.set_defaults(handler=cmd_retrain)


def _runs(sub: Subparsers) -> None:
    ru = command(sub, "runs", "recent runs: training, retrains, ingests, forecasts")
    json_flag(ru)
    ru.add_argument("--limit", type=int, default=20, help="how many of the newest to list")
    ru.set_defaults(handler=cmd_runs)


def _accuracy(sub: Subparsers) -> None:
    ac = command(
        sub,
        "accuracy",
        "live accuracy of a series' served forecasts",
        "examples:\n  forecaster accuracy AAPL\n  forecaster accuracy AAPL --since 2026-01-01 "
        "--steps 5",
    )
    ac.add_argument("key", metavar="KEY", help="a stored series")
    ac.add_argument(
        "--strategy",
        choices=["recursive", "direct"],
        default="recursive",
        help="whose served forecasts",
    )
    ac.add_argument(
        "--since", type=iso_date, metavar="YYYY-MM-DD", help="only forecasts issued from this date"
    )
    ac.add_argument("--steps", type=positive_int, help="only steps 1..STEPS (default: all)")
    json_flag(ac)
    ac.set_defaults(handler=cmd_accuracy)


def _replay(sub: Subparsers) -> None:
    rp = command(
        sub,
        "replay",
        "replay a bundled history day by day: ingest, forecast, scoring, retrain policy",
        "examples:\n  forecaster replay IBM --start 2012-09-04 --quick\n"
        "  forecaster replay seattle-weather --start 2015-06-01 --schedule weekly",
    )
    rp.add_argument("key", metavar="KEY", help="a bundled sample (AAPL, IBM, seattle-weather)")
    rp.add_argument(
        "--start", type=iso_date, required=True, metavar="YYYY-MM-DD", help="first replayed day"
    )
    rp.add_argument(
        "--end",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="last replayed day (default: the history's end)",
    )
    rp.add_argument(
        "--schedule",
        choices=["policy", "weekly", "both", "never"],
        default="policy",
        help="what starts retrains: the live-accuracy policy, a weekly schedule, both, or nothing",
    )
    names_a_file(
        rp.add_argument(
            "--config",
            type=Path,
            metavar="YAML",
            help="retrain config: candidates and policy (default: the bundled one)",
        )
    )
    rp.add_argument("--quick", action="store_true", help="the config's quick settings")
    rp.add_argument(
        "--window", type=positive_int, help="override the policy's window (default: the config's)"
    )
    rp.add_argument(
        "--min-origins",
        type=positive_int,
        metavar="N",
        help="override the policy's min_origins (default: the config's)",
    )
    json_flag(rp)
    rp.set_defaults(handler=cmd_replay)


def _address(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")


def _serve(sub: Subparsers) -> None:
    sv = command(sub, "serve", "migrate the database and serve the HTTP API")
    _address(sv)
    sv.set_defaults(handler=cmd_serve)


def _demo(sub: Subparsers) -> None:
    d = command(
        sub,
        "demo",
        "migrate, ingest the bundled sample, retrain, serve the API",
        "examples:\n  forecaster demo\n  forecaster demo --port 8080\n"
        "  forecaster demo --retrain --no-serve",
    )
    _address(d)
    d.add_argument("--retrain", action="store_true", help="retrain even where champions exist")
    d.add_argument("--no-serve", action="store_true", help="stop after training")
    d.set_defaults(handler=cmd_demo)


def _completion(sub: Subparsers, parser: argparse.ArgumentParser) -> None:
    co = command(sub, "completion", "print a shell completion script", INSTALL)
    co.add_argument("shell", choices=SHELLS, help="the shell to complete for")
    co.set_defaults(handler=cmd_completion, root_parser=parser)
