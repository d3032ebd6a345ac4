"""One Prefect server per project: `forecaster serve` starts it in the project's own home, serves
the deployments' schedules, other commands find it, and SIGTERM stops all of it (no orphaned
Prefect server or worker)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from flows.server import prefect_home, running_server, running_worker, schedule_worker
from tests.pg import free_port

CLI = str(Path(sys.executable).parent / "forecaster")


def _pids_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _deployments_ready(url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PREFECT_API_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "flows.deploy", "--check"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_serve_runs_the_project_prefect_server_and_sigterm_stops_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_HOME")} | {
        "FORECASTER_DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}"
    }
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [CLI, "serve", "--port", str(port)], cwd=tmp_path, env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.3)
        state = json.loads((prefect_home(tmp_path) / "server.json").read_text())
        assert prefect_home(tmp_path) == (tmp_path / ".prefect").resolve()  # not ~/.prefect
        assert (tmp_path / ".prefect" / "prefect.db").exists()
        url = running_server(tmp_path)
        assert url == state["url"] and url.startswith("http://127.0.0.1:")
        assert _pids_alive(state["pid"])
        # the schedules are served here too: every deployment READY (a runner polls it)
        worker = json.loads((prefect_home(tmp_path) / "worker.json").read_text())["pid"]
        deadline = time.monotonic() + 120
        while (check := _deployments_ready(url)).returncode != 0:
            assert _pids_alive(worker), (prefect_home(tmp_path) / "worker.log").read_text()
            assert time.monotonic() < deadline, check.stdout + check.stderr
            time.sleep(1)
        assert "all deployments ready" in check.stdout
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) in (0, 128 + signal.SIGTERM)  # stopped, not killed
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    deadline = time.monotonic() + 15
    while _pids_alive(state["pid"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _pids_alive(state["pid"]), "the Prefect server outlived `forecaster serve`"
    assert not _pids_alive(worker), "the schedule worker outlived `forecaster serve`"
    assert running_server(tmp_path) is None
    assert not (prefect_home(tmp_path) / "server.json").exists()


@pytest.mark.usefixtures("prefect_harness")
def test_the_schedule_worker_stops_on_sigterm_without_the_supervisors_sigkill(
    tmp_path: Path,
) -> None:
    """`python -m flows.deploy` ends its runner on SIGTERM (Prefect's own handler left the async
    stop unawaited and took 6-43 s, often until the supervisor's SIGKILL)."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    env = {**os.environ, "PREFECT_API_URL": url}
    env["FORECASTER_DATABASE_URL"] = f"sqlite:///{tmp_path / 'f.db'}"
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flows.deploy"],
            cwd=Path(__file__).resolve().parents[2],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 120
            while (check := _deployments_ready(url)).returncode != 0:
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, check.stdout + check.stderr
                time.sleep(1)
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=8)  # a supervisor waits 10 s before its SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
    assert code == 0, log_path.read_text()
    text = log_path.read_text()
    assert "serving deployments ingest/ingest, retrain/retrain, forecast/forecast" in text
    assert "never awaited" not in text


def _start_serve(tmp_path: Path, port: int) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_HOME")} | {
        "FORECASTER_DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}"
    }
    log = (tmp_path / "serve.log").open("ab")
    proc = subprocess.Popen(
        [CLI, "serve", "--port", str(port)], cwd=tmp_path, env=env, stdout=log, stderr=log
    )
    log.close()
    home = prefect_home(tmp_path)
    deadline = time.monotonic() + 120
    while not ((home / "server.json").exists() and (home / "worker.json").exists()):
        assert proc.poll() is None, (tmp_path / "serve.log").read_text()
        assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
        time.sleep(0.3)
    pids = {
        "server": json.loads((home / "server.json").read_text())["pid"],
        "worker": json.loads((home / "worker.json").read_text())["pid"],
    }
    return proc, pids


def test_kill_9_of_serve_takes_its_prefect_server_and_worker_with_it(tmp_path: Path) -> None:
    proc, pids = _start_serve(tmp_path, free_port())
    try:
        proc.kill()  # SIGKILL: serve's own clean-up never runs
        proc.wait(timeout=10)
        deadline = time.monotonic() + 20
        while any(_pids_alive(p) for p in pids.values()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _pids_alive(pids["server"]), "the Prefect server outlived a killed serve"
        assert not _pids_alive(pids["worker"]), "the schedule worker outlived a killed serve"
        # what the killed serve left on disk names a dead owner: never reused
        assert (prefect_home(tmp_path) / "server.json").exists()
        assert running_server(tmp_path) is None
    finally:
        for pid in pids.values():
            if _pids_alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_second_schedule_worker_is_never_started_for_one_project(tmp_path: Path) -> None:
    home = prefect_home(tmp_path)
    home.mkdir(parents=True)
    (home / "worker.json").write_text(json.dumps({"pid": os.getpid()}))  # a live worker
    with schedule_worker(tmp_path, {}) as proc:
        assert proc is None
    (home / "worker.json").write_text(json.dumps({"pid": 2**22 + 1}))  # a dead one: replaced
    assert running_worker(tmp_path) is None
