"""Real processes for the outage tests: a Prefect server on a given port and home (killed and
started again on both), `python -m flows.deploy` against it, and waits with generous bounds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any Prefect server or home of the caller's, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_HOME")}
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1", **extra)
    return env


def start_prefect_server(home: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """`prefect server start` on loopback `port` with `home` (its SQLite database) as
    PREFECT_HOME; returns once /api/ready answers."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
            + ["--port", str(port)],
            env=clean_env(PREFECT_HOME=str(home)),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    wait_for(lambda: ready(api_url(port)), 120, lambda: log.read_text()[-3000:], proc)
    return proc


def api_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/api"


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ready", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def wait_for(
    condition: Callable[[], bool],
    timeout: float,
    explain: Callable[[], str] = lambda: "",
    proc: subprocess.Popen[bytes] | None = None,
) -> float:
    """Poll `condition` until true (returns the seconds it took); fail after `timeout` s, or
    as soon as `proc` (which should keep running) exits."""
    start = time.monotonic()
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited ({proc.returncode}): {explain()}")
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout:g} s: {explain()}")
        time.sleep(0.5)
    return time.monotonic() - start


def deploy_check(url: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m flows.deploy --check` against `url`."""
    return subprocess.run(
        [sys.executable, "-m", "flows.deploy", "--check"],
        cwd=REPO,
        env={**env, "PREFECT_API_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s: nothing a test started outlives it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
