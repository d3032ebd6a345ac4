"""A CLI flow command with no Prefect server up does not die because a server is slow to start:
`forecaster retrain --quick` under CPU load died with "Timed out while attempting to connect to
ephemeral Prefect API server" (Prefect's temporary server gives up after a fixed time)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from forecaster.db.session import Database, upgrade
from tests.api.conftest import store_sample
from tests.flows.procs import clean_env

CLI = str(Path(sys.executable).parent / "forecaster")
TINY = {"lookback": 14, "horizon": 5, "hidden_size": 8, "epochs": 2, "batch_size": 64}


def _prefect_servers_in(home: Path) -> list[int]:
    """Pids of Prefect servers whose PREFECT_HOME is `home` (none may outlive the command)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        server = b"prefect" in b" ".join(cmdline) and b"server" in cmdline
        if server and f"PREFECT_HOME={home}".encode() in environ:
            found.append(int(proc.name))
    return found


def test_a_cli_retrain_under_cpu_load_outwaits_a_slow_prefect_start(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'f.db'}"
    upgrade(database_url)
    with Database(database_url) as db:
        store_sample(db.sessions, "seattle-weather", rows=300)
    config = tmp_path / "tiny.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "backtest_origins": 10,
                "defaults": TINY,
                "candidates": [{"architecture": "gru", "strategy": "direct"}],
            }
        )
    )
    env = clean_env(
        FORECASTER_DATABASE_URL=database_url,
        FORECASTER_TORCH_THREADS="1",
        # a start slower than Prefect's own bound, made sure of: the old code's temporary
        # server gave up after this many seconds (90 under load was not always enough)
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="1",
    )
    busy = [  # CPU load: more busy processes than this machine has cores
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range((os.cpu_count() or 2) + 1)
    ]
    try:
        done = subprocess.run(
            [CLI, "retrain", "seattle-weather", "--quick", "--config", str(config)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Timed out" not in done.stderr
    assert "seattle-weather" in done.stdout
    assert _prefect_servers_in((tmp_path / ".prefect").resolve()) == []  # stopped with it
