"""The local Prefect server (one per project, in the project's own folder) and the schedule worker.

Without a Prefect server each process that runs a flow starts a temporary one (10-25 s on two
cores) in `PREFECT_HOME`, by default the user's shared `~/.prefect`, whose SQLite file two
such servers can lock. Here instead:

* `PREFECT_HOME` defaults to `<data_dir>/.prefect` (the project's folder, never `~/.prefect`);
* `forecaster serve` and `forecaster demo` start one Prefect server there on a free loopback
  port (unless `PREFECT_API_URL` names one), record it in `<home>/server.json`, run their flows
  against it, and stop it on exit, SIGINT or SIGTERM;
* every other CLI command that runs a flow uses that server when it is up (a health check on
  the recorded URL), so it pays no start-up; otherwise it starts one of its own in the project's
  home for the command (`command_server`: not recorded, stopped at exit), waited for as long as
  it is starting rather than Prefect's temporary server, which gave up under CPU load;
* `forecaster serve` also serves the deployments (`python -m flows.deploy`, a child process in
  its own process group, `schedule_worker`), so the schedules run in the embedded default
  exactly as in production, and API-triggered runs are flow runs of those same deployments
  (flows/dispatch.py).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import IO, Any

from forecaster.errors import Unavailable

logger = logging.getLogger(__name__)

# A server that exits fails its start at once; one still starting is waited for this long: under
# CPU load a start took over 90 s (Prefect's own temporary server gives up after its
# PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, and a CLI retrain died of it).
STARTUP_TIMEOUT_S = 600.0
RESTARTS = 5  # failed starts in a row before the monitor gives up on the project's server
PREFECT_RETRY_AFTER_S = 10  # what a client is told while the server is away (restart: 10-25 s)


def prefect_home(data_dir: Path) -> Path:
    return (data_dir / ".prefect").resolve()


def quiet_env(data_dir: Path) -> None:
    """Offline defaults (no telemetry: it can lock the server's SQLite file), a patient start-up,
    and the project's own Prefect home. Call before Prefect is imported."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    home = prefect_home(data_dir)
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(home))


def _healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


def prefect_ready(api_url: str, timeout: float = 2.0) -> bool:
    """Whether the Prefect server at `api_url` answers /ready: up, and its database reachable
    (its /health says 200 while its PostgreSQL is down)."""
    try:
        with urllib.request.urlopen(f"{api_url}/ready", timeout=timeout) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:  # refused, timed out, or an HTTP error (503: its database is down)
        return False


def require_prefect(api_url: str | None) -> None:
    """Raise Unavailable (HTTP 503, Retry-After) when the Prefect server at `api_url` is not
    ready; None (a flow would start a temporary server of its own) passes."""
    if api_url is not None and not prefect_ready(api_url.rstrip("/")):
        raise Unavailable(
            "the Prefect server that runs flows is unavailable right now (not answering, or "
            "its database is down; the embedded one restarts by itself); no run was created: "
            f"retry in {PREFECT_RETRY_AFTER_S} seconds",
            retry_after=PREFECT_RETRY_AFTER_S,
        )


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists (one owned by another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _libc() -> Any:
    with contextlib.suppress(OSError):
        return ctypes.CDLL("libc.so.6", use_errno=True)
    return None


_LIBC = _libc()  # loaded here, not between fork and exec (where another thread may hold a lock)


def _die_with_parent() -> None:
    """In a child, before exec: SIGTERM it when the thread that started it ends, however the
    process dies (kill -9 included), so no Prefect server or worker outlives `forecaster serve`
    (Linux PR_SET_PDEATHSIG; elsewhere a no-op)."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


def running_server(data_dir: Path) -> str | None:
    """The API URL of the project's Prefect server, when one is up and its owner (the `serve`
    that started it) is alive: a server left by a killed owner is not reused."""
    state = prefect_home(data_dir) / "server.json"
    try:
        recorded = json.loads(state.read_text())
        url = str(recorded["url"])
        owner = int(recorded.get("owner", 0))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if owner and not pid_alive(owner):
        return None
    return url if _healthy(url) else None


def use_running_server(data_dir: Path) -> str | None:
    """Point this process's flows at the project's server if one is up; returns its URL."""
    quiet_env(data_dir)
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    url = running_server(data_dir)
    if url is not None:
        os.environ["PREFECT_API_URL"] = url
    return url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _raise_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


class _ServerChild:
    """The project's Prefect server as a child process, started again on the same port and home
    when it dies (a monitor thread; `RESTARTS` failed starts in a row, then it gives up)."""

    def __init__(self, home: Path, port: int, log: IO[bytes]) -> None:
        self.home, self.port, self.log = home, port, log
        self.url = f"http://127.0.0.1:{port}/api"
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # the monitor's restart against the owner's stop
        self.proc = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
            + ["--port", str(self.port)],
            env={**os.environ, "PREFECT_HOME": str(self.home), "PREFECT_API_URL": ""},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - one prctl call; libc loaded before
        )

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _healthy(self.url, timeout=1.0):
            if self.proc.poll() is not None:
                raise RuntimeError(f"the Prefect server exited at start-up; see {self.log.name}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Prefect server did not start in {STARTUP_TIMEOUT_S} s")
            if self._stopping.wait(0.25):
                return

    def monitor(self, on_restart: Callable[[int], None]) -> None:
        """Until `stop`: start the server again when it exits. Runs in its own thread, which
        outlives each child it starts (PR_SET_PDEATHSIG follows the starting thread)."""
        failures = 0
        while not self._stopping.wait(1.0):
            if self.proc.poll() is None:
                continue
            if failures >= RESTARTS:
                logger.error(
                    "the project's Prefect server failed to start %d times; not restarting it "
                    "(runs answer 503; restart `forecaster serve`). See %s",
                    failures,
                    self.log.name,
                )
                return
            logger.warning(
                "the project's Prefect server (pid %d) exited with %s; starting it again at %s",
                self.proc.pid,
                self.proc.returncode,
                self.url,
            )
            with self._lock:
                if self._stopping.is_set():
                    return
                self.proc = self._spawn()
            try:
                self.wait_healthy()
            except RuntimeError as exc:
                failures += 1
                logger.warning("restart %d of the Prefect server failed: %s", failures, exc)
                self._stopping.wait(2.0**failures)
                continue
            if self._stopping.is_set():
                return  # the owner stops it and removes server.json: write nothing after
            failures = 0
            on_restart(self.proc.pid)
            logger.warning("the project's Prefect server is back (pid %d)", self.proc.pid)

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            proc = self.proc
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def command_server(data_dir: Path) -> str:
    """Start a Prefect server in the project's home for this process alone and point its flows
    at it; returns its API URL. It is not recorded in server.json (no other command comes to
    depend on it), is stopped when this process exits, and dies with it however it dies."""
    quiet_env(data_dir)
    home = prefect_home(data_dir)
    log = (home / "server.log").open("ab")
    child = _ServerChild(home, _free_port(), log)

    def stop() -> None:
        child.stop()
        log.close()

    atexit.register(stop)
    child.wait_healthy()
    os.environ["PREFECT_API_URL"] = child.url
    return child.url


@contextlib.contextmanager
def project_server(data_dir: Path) -> Iterator[str | None]:
    """Use (or start, and on exit stop) the project's Prefect server; yields its API URL.

    A server named by PREFECT_API_URL, or one already running for the project (another
    `serve`), is used as it is and left running. One started here is started again on the same
    port and home (its runs and deployments kept) when it dies, so runs work again without
    restarting `serve`; meanwhile POST /runs answers 503.
    """
    quiet_env(data_dir)
    existing = use_running_server(data_dir)
    if existing is not None:
        yield existing
        return
    home = prefect_home(data_dir)
    log = (home / "server.log").open("ab")
    child = _ServerChild(home, _free_port(), log)
    previous = signal.signal(signal.SIGTERM, _raise_on_sigterm)  # run the cleanup below
    state = home / "server.json"

    def record(pid: int) -> None:
        state.write_text(json.dumps({"url": child.url, "pid": pid, "owner": os.getpid()}))

    try:
        child.wait_healthy()
        record(child.proc.pid)
        os.environ["PREFECT_API_URL"] = child.url
        logger.info("Prefect server for this project at %s (home %s)", child.url, home)
        threading.Thread(
            target=child.monitor, args=(record,), name="prefect-server-monitor", daemon=True
        ).start()
        yield child.url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        with contextlib.suppress(OSError):
            state.unlink()
        child.stop()
        log.close()
        signal.signal(signal.SIGTERM, previous)


def running_worker(data_dir: Path) -> int | None:
    """The pid of the project's schedule worker, when one is alive."""
    try:
        pid = int(json.loads((prefect_home(data_dir) / "worker.json").read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if pid_alive(pid) else None


@contextlib.contextmanager
def schedule_worker(
    data_dir: Path, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes] | None]:
    """Serve the deployments and their schedules (`python -m flows.deploy`) while in the block.

    The worker runs in its own process group: on exit the group gets SIGTERM (then SIGKILL
    after 10 s), so neither the worker nor a scheduled flow run it started outlives the block;
    it also gets SIGTERM when this process dies without running the block's exit (kill -9).
    When the project's worker already runs (another `serve`), none is started (yields None).
    A scheduled run cut short that way is ended by the API's reaper when its lease lapses.
    """
    other = running_worker(data_dir)
    if other is not None:  # never two schedule workers on one project: each would run them all
        logger.warning(
            "the project's schedule worker already runs (pid %d); not starting one", other
        )
        yield None
        return
    home = prefect_home(data_dir)
    log = (home / "worker.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.deploy"],
        env={**os.environ, "PREFECT_HOME": str(home), **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - see project_server
    )
    (home / "worker.json").write_text(json.dumps({"pid": proc.pid}))
    try:
        yield proc
    finally:
        with contextlib.suppress(OSError):
            (home / "worker.json").unlink()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):  # flow runs it started, if any are left
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
