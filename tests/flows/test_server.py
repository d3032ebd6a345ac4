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


def _start_serve(
    tmp_path: Path, port: int, **extra: str
) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_HOME")} | {
        "FORECASTER_DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}",
        **extra,
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


def test_serve_starts_its_prefect_server_again_when_it_dies(tmp_path: Path) -> None:
    """kill -9 of the embedded Prefect server: POST /runs says 503 (not 202 and a run failed in
    5 s) until `serve` has started it again on the same port and home; then runs work, without
    restarting `serve`."""
    import httpx

    port = free_port()
    proc, pids = _start_serve(tmp_path, port, FORECASTER_API_KEY="test-key-123")
    base, auth = f"http://127.0.0.1:{port}/api/v1", {"X-API-Key": "test-key-123"}
    log = (tmp_path / "serve.log").read_text
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, log()
                time.sleep(0.3)
        series = {"key": "seattle", "source": "csv", "sample": "seattle-weather"}
        assert httpx.post(f"{base}/series", json=series, headers=auth).status_code == 201
        ingest = {"kind": "ingest", "series": ["seattle"]}
        url = json.loads((prefect_home(tmp_path) / "server.json").read_text())["url"]

        os.kill(pids["server"], signal.SIGKILL)
        refused = httpx.post(f"{base}/runs", json=ingest, headers=auth, timeout=30)
        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"] == "10"
        assert "the Prefect server that runs flows is unavailable" in refused.json()["detail"]

        deadline = time.monotonic() + 90  # the server restarts in 10-25 s on two cores
        while (
            r := httpx.post(f"{base}/runs", json=ingest, headers=auth, timeout=30)
        ).status_code == 503:
            assert proc.poll() is None and time.monotonic() < deadline, log()
            time.sleep(1)
        assert r.status_code == 202, r.text
        run_id = r.json()["id"]
        deadline = time.monotonic() + 120
        while (run := httpx.get(f"{base}/runs/{run_id}", headers=auth).json())["status"] in (
            "pending",
            "running",
        ):
            assert time.monotonic() < deadline, run
            time.sleep(0.5)
        assert run["status"] == "completed", run["error"]
        runs = httpx.get(f"{base}/runs", headers=auth).json()
        assert [r["id"] for r in runs["data"]] == [run_id]  # the refused requests left no row
        state = json.loads((prefect_home(tmp_path) / "server.json").read_text())
        assert state["url"] == url and state["pid"] != pids["server"]  # same port, new process
        pids["restarted"] = state["pid"]
        assert "starting it again" in log() and "Traceback" not in log()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        deadline = time.monotonic() + 15
        while any(_pids_alive(p) for p in pids.values()) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in pids.values():
            if _pids_alive(pid):
                os.kill(pid, signal.SIGKILL)
                raise AssertionError(f"pid {pid} outlived `forecaster serve`")
