"""Deployments and schedules: ingest daily after the US market close, retrain weekly.

    python -m flows.deploy            # serve them on a Prefect server (PREFECT_API_URL)
    python -m flows.deploy --once     # run ingest -> retrain -> forecast now, in-process
    python -m flows.deploy --check    # exit 0 when the server sees the deployments served
                                      # (READY: a runner is polling them); the health check

Cron strings come from the settings (FORECASTER_INGEST_CRON, FORECASTER_RETRAIN_CRON,
FORECASTER_FORECAST_CRON) so an operator changes the schedule without touching code.

The worker survives a Prefect server (or its database) outage by supervising itself, in addition
to compose's restart policy: Prefect's runner gives up after three failed polls (about 6 s) and
exits. Here a runner that stops for any reason but SIGTERM or Ctrl-C is replaced: the worker
waits for the server's /api/ready (its database reachable too) with a capped backoff, logging
one line when the outage starts and one when it ends, then registers the deployments again with
a fresh runner (whose new event subscription makes cancelling through Prefect work again after
a server restart). Flow runs this worker had in flight when its runner stopped are ended with it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from types import FrameType, TracebackType
from typing import Any

# A runner looks for scheduled work every 10 s by default: an API-triggered run would wait up to
# that long for its worker. 2 s costs one light query per deployment; set before Prefect loads.
os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", "2")
WATCH_S = 2.0  # how often a runner checks the Prefect server's /api/ready

from prefect.runner import Runner  # noqa: E402

from flows.forecast import forecast  # noqa: E402
from flows.ingest import ingest  # noqa: E402
from flows.retrain import retrain  # noqa: E402
from flows.schedules import crons, schedule_parameters, scheduled_deployment  # noqa: E402
from flows.server import prefect_ready  # noqa: E402
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
    """Prefect's runner, stopped by SIGTERM as by Ctrl-C, that recovers cancelling after an outage.

    Prefect 3.8's own handler calls the async `stop` without awaiting it ("coroutine
    'Runner.astop' was never awaited") and exits from inside the loop: a stop took 6-43 s and
    often ended in the supervisor's SIGKILL. A KeyboardInterrupt instead makes asyncio cancel
    `start()`, whose exit stops the runner and pauses the deployments in well under 2 s.

    Prefect's cancellation observer gives up for good once its event stream and three polls
    fail (its failure callback then dies with "NoEventLoopError" in 3.8.8), so after a Prefect
    server restart cancelling through Prefect never worked again. A watch on the server's
    /api/ready (`api_url`) gives the runner a fresh observer whenever the server is back after
    an outage, keeping the flow runs in flight and their cancellation.
    """

    def __init__(self, *args: Any, api_url: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.api_url = api_url
        self.down_since: float | None = None  # when its watch saw the server go; None: up
        self._watch: asyncio.Task[None] | None = None

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    async def __aenter__(self) -> _Runner:
        await super().__aenter__()
        if self.api_url:
            self._watch = asyncio.create_task(self._watch_server())
            self._poll_through_outages()
        return self

    def _poll_through_outages(self) -> None:
        """A poll for scheduled runs that fails while the server is unavailable counts as done.

        Prefect's poll loop stops the runner after 3 failed polls in a row (6 s at a 2 s poll),
        and the runner's stop kills the flow runs in flight: a 20 s PostgreSQL outage behind the
        Prefect server killed every retrain running on this worker. While /api/ready says the
        server is away, a failed poll is skipped (the watch says so once) and the next one tries
        again; a failure with the server up still counts against Prefect's limit."""
        poller = getattr(self, "_scheduled_run_poller", None)
        if poller is None:  # not prefect 3.8's layout: keep its behaviour
            return
        poll = poller._get_and_submit_flow_runs

        async def tolerant() -> Any:
            try:
                return await poll()
            except Exception:
                if await asyncio.to_thread(prefect_ready, self.api_url):
                    raise
                return None

        poller._get_and_submit_flow_runs = tolerant

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        # Pause the schedules on a requested stop only: a runner stopped by an outage is about
        # to be replaced, and pausing needs the server it just lost.
        if exc_type is not None and not issubclass(
            exc_type, asyncio.CancelledError | KeyboardInterrupt
        ):
            self.pause_on_shutdown = False
        await super().__aexit__(exc_type, exc, tb)

    async def _watch_server(self) -> None:
        """Say once when the server goes away; renew the cancellation observer when it is back.

        The observers made here live in this task's exit stack (entered and exited in one task,
        as anyio wants), so they end when the runner cancels this watch."""
        async with contextlib.AsyncExitStack() as observers:
            while True:
                await asyncio.sleep(WATCH_S)
                ready = await asyncio.to_thread(prefect_ready, self.api_url)
                if not ready and self.down_since is None:
                    self.down_since = time.monotonic()
                    _say(
                        f"Prefect server at {self.api_url} unavailable; flow runs in flight "
                        "keep running, the runner retries"
                    )
                elif ready and self.down_since is not None:
                    await observers.enter_async_context(self._fresh_cancelling_observer())
                    _say(
                        f"Prefect server back after {time.monotonic() - self.down_since:.0f} s; "
                        "watching for cancellations again"
                    )
                    self.down_since = None

    @contextlib.asynccontextmanager
    async def _fresh_cancelling_observer(self) -> AsyncIterator[None]:
        """A new cancellation observer for the flow runs in flight, built as Runner.__aenter__
        builds its own (prefect 3.8.8); the old one, dead or not, ends with the runner."""
        from uuid import UUID

        from prefect._internal.observers import FlowRunCancellingObserver

        def on_cancelling(flow_run_id: UUID) -> None:
            self._runs_task_group.start_soon(self._cancel_run, flow_run_id)

        old = self._cancelling_observer
        async with FlowRunCancellingObserver(
            on_cancelling, polling_interval=self.query_seconds
        ) as new:
            for flow_run_id in old._in_flight_flow_run_ids if old is not None else ():
                new.add_in_flight_flow_run_id(flow_run_id)
            self._cancelling_observer = new  # the runner adds and removes its runs here now
            yield


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _say(line: str) -> None:
    print(line, flush=True)  # noqa: T201 - the worker's log is its stdout


def backoff(first: float = 1.0, cap: float = 30.0) -> Callable[[], float]:
    """Successive waits: 1, 2, 4, ... seconds, never more than `cap`."""
    delay = first / 2

    def next_delay() -> float:
        nonlocal delay
        delay = min(delay * 2, cap)
        return delay

    return next_delay


def wait_until_ready(api_url: str, *, cap: float = 30.0) -> None:
    """Poll the server's /api/ready with a capped backoff until it answers."""
    wait = backoff(cap=cap)
    while not prefect_ready(api_url):
        time.sleep(wait())


def _one_line(exc: BaseException) -> str:
    """An exception (or the first of a group) as one line: its type and first line."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def serve(*served: Any, api_url: str | None = None) -> None:
    """Serve the deployments (and their schedules) until SIGTERM or Ctrl-C, through outages.

    Each pass registers the deployments with a fresh runner and runs it; when the runner stops
    for another reason than a requested stop, the worker waits for `api_url` (default: the
    PREFECT_API_URL setting) to be ready again and starts the next pass.
    """
    from prefect.settings import PREFECT_API_URL

    url = (api_url or PREFECT_API_URL.value() or "").rstrip("/")
    # its tracebacks on every lost event stream say nothing the watch's one line does not
    logging.getLogger("prefect.FlowRunCancellingObserver").setLevel(logging.ERROR)
    signal.signal(signal.SIGTERM, _interrupt)  # a stop between runners is a stop too
    names = ", ".join(f"{d.flow_name}/{d.name}" for d in served)
    down_since: float | None = None  # when the current outage began; None: serving
    try:
        while True:
            runner, ran = _Runner(pause_on_shutdown=True, api_url=url), False
            try:
                for deployment in served:
                    runner.add_deployment(deployment)
                if down_since is None:
                    _say(f"serving deployments {names}; stop with Ctrl-C or SIGTERM")
                else:
                    _say(
                        f"Prefect server back after {time.monotonic() - down_since:.0f} s; "
                        f"serving deployments {names} again"
                    )
                    down_since = None
                ran = True
                asyncio.run(runner.start())
                reason = "it returned"
            except Exception as exc:  # noqa: BLE001 - an outage: one line, then wait it out
                reason = _one_line(exc)
            if ran:  # the runner's own watch may have said so already
                said, down_since = runner.down_since is not None, runner.down_since
                _say(
                    ("" if said else "Prefect server unavailable; ")
                    + f"runner stopped ({reason}), with any flow runs it had in flight; "
                    f"a fresh one starts when {url or 'the server'} is ready"
                )
            elif down_since is None:
                _say(f"Prefect server unavailable ({reason}); waiting until {url} is ready")
            down_since = down_since or time.monotonic()
            if url:
                wait_until_ready(url)
            else:  # an ephemeral server: nothing to poll, try again after a pause
                time.sleep(5)
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
