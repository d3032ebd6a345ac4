"""`forecaster db upgrade`, `serve` (the HTTP API, with the project's Prefect server and the
schedules) and `demo` (migrate, ingest the bundled sample, retrain, serve)."""

from __future__ import annotations

import argparse
import contextlib
import sys

from forecaster.cli.context import open_sessions
from forecaster.cli.ingest import register_samples, run_ingest
from forecaster.cli.reads import cmd_models
from forecaster.cli.retrain import cmd_retrain, print_no_skill
from forecaster.config import Settings


def cmd_db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    from forecaster.db.session import upgrade

    upgrade(settings.database_url)
    print(f"database at head: {settings.database_url}")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate the database, then serve the HTTP API with uvicorn (the app itself never migrates)."""
    import uvicorn

    from api.main import create_app
    from forecaster.db.session import upgrade

    upgrade(settings.database_url)
    if settings.api_key is None:
        print(
            "note: FORECASTER_API_KEY is not set: reads work, mutating routes (POST) answer 503",
            file=sys.stderr,
        )
    from flows.server import project_server, schedule_worker

    # POST /runs executes flows in this process (unless FORECASTER_PREFECT_API_URL sends them
    # to deployments): against the project's Prefect server, started here when none is up.
    with project_server(settings.data_dir) as prefect_url, contextlib.ExitStack() as stack:
        if settings.prefect_api_url is None and settings.schedules and prefect_url:
            # the schedules run here too (production: the worker serves them)
            stack.enter_context(schedule_worker(settings.data_dir, _worker_env(settings)))
            schedules = "schedules served here (FORECASTER_SCHEDULES=false turns them off)"
        else:
            schedules = "schedules not served here"
        print(
            f"serving http://{args.host}:{args.port}/ (docs at /docs; Ctrl-C stops; "
            f"flows report to the Prefect server at {prefect_url}; {schedules})",
            file=sys.stderr,
        )
        # the app object, not the factory: it must use these settings (--database-url included)
        uvicorn.run(
            create_app(settings),
            host=args.host,
            port=args.port,
            log_level=settings.log_level.lower(),
        )
    return 0


def _worker_env(settings: Settings) -> dict[str, str]:
    """What the schedule worker needs to run flows against this server's database."""
    env = {"FORECASTER_DATABASE_URL": settings.database_url}
    if settings.retrain_config is not None:
        env["FORECASTER_RETRAIN_CONFIG"] = str(settings.retrain_config)
    if settings.torch_threads:
        env["FORECASTER_TORCH_THREADS"] = str(settings.torch_threads)
    return env


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """The whole job on the embedded default: migrate, ingest the bundled sample, retrain, serve.

    Its flows run against one Prefect server for the project (started here, stopped on exit)."""
    from flows.server import project_server

    with project_server(settings.data_dir):
        return _demo(args, settings)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from forecaster.app import catalog
    from forecaster.db import series as series_db

    print(f"1/4 database: {settings.database_url}")
    with open_sessions(settings, migrate=True) as sessions:
        print(
            "2/4 ingesting the bundled real sample (AAPL, IBM daily prices; Seattle daily weather)"
        )
        keys = register_samples(sessions)
        status = run_ingest(settings, sessions, keys, None)
        with sessions.begin() as session:
            untrained = [
                k
                for k in keys
                if catalog.find_champion(
                    session=session,
                    series_id=series_db.get_series(session=session, key=k).id,
                    strategy="direct",
                )
                is None
            ]
        todo = keys if args.retrain else untrained
        if todo:
            print(
                f"3/4 retraining {', '.join(todo)} with the quick settings (LSTM, GRU, seq2seq-attention; a few minutes)"
            )
            cmd_retrain(argparse.Namespace(keys=todo, config=None, quick=True), settings)
        else:
            print(
                "3/4 every series has champions already (`forecaster demo --retrain` trains again)"
            )
        cmd_models(argparse.Namespace(key=None, series=None, json=False), settings)
        if not todo:
            from forecaster.app.training import served_champions

            with sessions.begin() as session:
                print_no_skill(served_champions(session=session, series_keys=keys))
    if args.no_serve:
        return status
    return _serve_demo(args, settings)


def _serve_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Serve with an API key (made for this session when none is set) and say how to use it."""
    if settings.api_key is None:  # a key for this session, so Retrain and Promote work
        import secrets

        from pydantic import SecretStr

        settings = settings.model_copy(update={"api_key": SecretStr(secrets.token_urlsafe(12))})
        assert settings.api_key is not None
        key = settings.api_key.get_secret_value()
        print(f"\nAPI key for this demo session: {key}  (FORECASTER_API_KEY sets your own)")
    else:
        key = "$FORECASTER_API_KEY"
    base = f"http://{args.host}:{args.port}"
    print(f"""
4/4 serving the API and dashboard (Ctrl-C stops):
  dashboard   {base}/
  API docs    {base}/docs
  health      curl {base}/health
  series      curl {base}/api/v1/series
  forecast    curl '{base}/api/v1/forecasts/AAPL?strategy=direct'
  weather     curl '{base}/api/v1/forecasts/seattle-weather?horizon=10&strategy=recursive&level=0.9'
  retrain     curl -X POST -H "X-API-Key: {key}" -H 'Content-Type: application/json' \\
                   -d '{{"kind": "retrain", "series": ["IBM"]}}' {base}/api/v1/runs
""")
    return cmd_serve(args, settings)
