"""Deployments and schedules: ingest daily after the US market close, retrain weekly.

    python -m flows.deploy            # serve them on a Prefect server (PREFECT_API_URL)
    python -m flows.deploy --once     # run ingest -> retrain -> forecast now, in-process
    python -m flows.deploy --check    # exit 0 when the server sees the deployments served
                                      # (READY: a runner is polling them); the health check

Cron strings come from the settings (FORECASTER_INGEST_CRON, FORECASTER_RETRAIN_CRON,
FORECASTER_FORECAST_CRON) so an operator changes the schedule without touching code.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

# A runner looks for scheduled work every 10 s by default: an API-triggered run would wait up to
# that long for its worker. 2 s costs one light query per deployment; set before Prefect loads.
os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", "2")

from prefect.runner import Runner  # noqa: E402

from flows.forecast import forecast  # noqa: E402
from flows.ingest import ingest  # noqa: E402
from flows.retrain import retrain  # noqa: E402
from flows.schedules import crons, schedule_parameters, scheduled_deployment  # noqa: E402
from forecaster.config import Settings, get_settings  # noqa: E402


def deployments(settings: Settings | None = None) -> list:  # type: ignore[type-arg]
    """The three deployments; flows/dispatch.py starts "ingest/ingest" and "retrain/retrain"."""
    settings = settings or get_settings()
    cron, parameters = crons(settings), schedule_parameters(settings)
    flows = {"ingest": ingest, "retrain": retrain, "forecast": forecast}
    return [
        scheduled_deployment(flow, kind, cron[kind], parameters[kind])
        for kind, flow in flows.items()
    ]


def check(settings: Settings) -> int:
    """0 when the Prefect server reports every deployment READY (a runner polls it), else 1."""
    from prefect.client.orchestration import get_client

    names = [f"{d.flow_name}/{d.name}" for d in deployments(settings)]
    with get_client(sync_client=True) as client:
        for name in names:
            try:
                deployment = client.read_deployment_by_name(name)
            except Exception as exc:  # noqa: BLE001 - reported, then unhealthy
                print(f"{name}: {type(exc).__name__}: {exc}")  # noqa: T201
                return 1
            status = str(getattr(deployment, "status", "") or "")
            if "READY" not in status.upper():
                print(f"{name}: {status or 'no status'} (no worker is serving it)")  # noqa: T201
                return 1
    print("all deployments ready: " + ", ".join(names))  # noqa: T201
    return 0


class _Runner(Runner):
    """Prefect's runner, stopped by SIGTERM as by Ctrl-C.

    Prefect 3.8's own handler calls the async `stop` without awaiting it ("coroutine
    'Runner.astop' was never awaited") and exits from inside the loop: a stop took 6-43 s and
    often ended in the supervisor's SIGKILL. A KeyboardInterrupt instead makes asyncio cancel
    `start()`, whose exit stops the runner and pauses the deployments in well under 2 s.
    """

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt


def serve(*served: Any) -> None:
    """Serve the deployments (and their schedules) until SIGTERM or Ctrl-C."""
    runner = _Runner(pause_on_shutdown=True)
    for deployment in served:
        runner.add_deployment(deployment)
    names = ", ".join(f"{d.flow_name}/{d.name}" for d in served)
    print(f"serving deployments {names}; stop with Ctrl-C or SIGTERM", flush=True)  # noqa: T201
    try:
        asyncio.run(runner.start())
    except KeyboardInterrupt:
        pass  # a requested stop: the runner has shut down


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--once", action="store_true", help="run the chain now, in-process, and exit"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 0 when every deployment is READY on the server (a worker serves it), else 1",
    )
    args = parser.parse_args()
    settings = get_settings()
    if args.check:
        raise SystemExit(check(settings))
    if args.once:
        ingest()
        retrain()
        forecast()
        return
    serve(*deployments(settings))


if __name__ == "__main__":
    main()
