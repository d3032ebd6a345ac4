"""The production topology (docker-compose.yml's services as real processes, tests/topology.py)
retraining over HTTP on its Dask workers, then through the faults an operator meets: a Dask
worker, the Prefect worker and the API killed, the Prefect server restarted, PostgreSQL stopped
for 20 s mid-retrain and mid-read. Each fault asserts the run's final status and how long it
took, who is served, and that nothing was written after the run ended.

One topology for the module (bring-up is ~20 s); the tests run in file order and each leaves the
topology as compose's restart policy would (a killed process started again).
`make test-production` runs this module alone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.production import scenarios
from tests.production.scenarios import (
    SERIES,
    assert_nothing_after,
    champions,
    ingest_series,
    start_retrain,
)
from tests.topology import Topology, topology

pytestmark = [pytest.mark.postgres, pytest.mark.production]

RESOLVE_S = 60  # the bound from a fault to its run's final status
TRAIN_S = 120  # what is left of the training when a fault lets the run go on (a busy machine)


@pytest.fixture(scope="module")
def topo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    from tests.conftest import PG_MODE

    if PG_MODE == "off":
        pytest.skip("FORECASTER_TEST_POSTGRES=off")
    config = tmp_path_factory.mktemp("production") / "retrain.yaml"
    config.write_text(yaml.safe_dump(RETRAIN_CONFIG))
    with topology(
        dask_workers=2,
        FORECASTER_RETRAIN_CONFIG=str(config),
        FORECASTER_RUN_HEARTBEAT_S="2",
        FORECASTER_RUN_STALE_S="10",
    ) as t:
        ingest_series(t)
        yield t


# Small enough for CI, long enough (~15-30 s on 2 busy cores) to land a fault mid-run.
RETRAIN_CONFIG: dict[str, Any] = {
    "backtest_origins": 10,
    "defaults": {
        "lookback": 28,
        "horizon": 7,
        "hidden_size": 8,
        "num_layers": 1,
        "epochs": 5,
        "patience": 5,
        "batch_size": 32,
        "targets": ["tmax"],
        "dropout": 0.0,
    },
    "candidates": [
        {"architecture": "gru", "strategy": "direct"},
        {"architecture": "lstm", "strategy": "recursive"},
    ],
}


def test_retrain_over_http_trains_on_both_dask_workers(topo: Topology) -> None:
    run = start_retrain(topo)
    done = topo.wait_run(run.id)
    assert done["status"] == "completed", done["error"]
    workers = set(topo.dask_worker_addresses())
    used = {c["executor"]["dask_worker"] for c in done["result"]["candidates"]}
    assert used <= workers and len(used) == 2, (used, workers)  # on the cluster, both workers
    served = champions(topo)
    assert set(served) == set(SERIES), served
    for key in SERIES:
        status, body, _ = topo.request("GET", f"/api/v1/forecasts/{key}")
        assert status == 200, body
        assert len(body["points"]) == 7
    assert_nothing_after(topo, run.id)


def test_a_dask_worker_killed_mid_retrain(topo: Topology) -> None:
    before = champions(topo)
    out = scenarios.kill_dask_worker(topo)
    # Dask gives the lost task to the surviving worker: the run still completes
    assert out.status == "completed", out.error
    assert out.seconds < RESOLVE_S + TRAIN_S, out.line()
    assert set(champions(topo)) == set(before)
    assert not out.late, out.line()


def test_the_prefect_worker_killed_mid_retrain(topo: Topology) -> None:
    before = champions(topo)
    out = scenarios.kill_prefect_worker(topo)
    assert out.status == "failed", out.run
    assert "heartbeat" in out.error or "killed" in out.error, out.error
    assert out.seconds < RESOLVE_S, out.line()
    assert champions(topo) == before  # a failed run changes nothing served
    assert not out.late, out.line()  # nor does the work it left on the cluster
    assert out.notes["prefect_state"] in ("CRASHED", "FAILED", "CANCELLED"), out.notes
    again = topo.wait_run(start_retrain(topo).id)  # the restarted worker serves runs
    assert again["status"] == "completed", again["error"]


def test_the_prefect_server_restarted(topo: Topology) -> None:
    out = scenarios.restart_prefect_server(topo)
    status, body, headers = out.notes["refused"]
    assert status == 503, body  # not a 202 for a run that cannot start
    assert "Prefect" in body["detail"] and headers.get("Retry-After"), (body, dict(headers))
    assert out.notes["worker_alive"]  # the worker outlived its server
    assert out.seconds < RESOLVE_S, out.line()  # deployments served again
    assert out.status == "completed", out.error


def test_postgres_down_for_20_s_mid_retrain_and_mid_read(topo: Topology) -> None:
    before = champions(topo)
    out = scenarios.postgres_outage(topo, down_s=20)
    reads = out.notes["reads"]
    bad = [r for r in reads if r[1] not in (200, 503)]
    assert not bad, bad[:5]  # never a 500, never a dropped connection
    outage = [r for r in reads if r[1] == 503]
    assert outage, "no read saw the outage"
    assert all(isinstance(body, dict) and retry for _, _, body, retry in outage), outage[:3]
    assert out.status == "completed" or "database unavailable" in out.error, out.run
    assert "killed" not in out.error, out.error
    assert out.seconds < RESOLVE_S + TRAIN_S, out.line()
    assert out.notes["worker_alive"]
    if out.status != "completed":
        assert champions(topo) == before
    assert not out.late, out.line()
    for path in scenarios.READS:
        assert topo.request("GET", path)[0] == 200, path


def test_the_api_killed_then_stopped(topo: Topology) -> None:
    out = scenarios.kill_api(topo)
    assert out.status == "completed", out.error  # the run is the worker's, not the API's
    api = topo.procs["api"]
    t0 = time.monotonic()
    code = api.stop(grace=10)
    stopped = time.monotonic() - t0
    # uvicorn shuts down, then re-raises the SIGTERM it caught: exit by that signal is clean
    assert code in (0, -15) and stopped < 5, (code, stopped)
    assert "Application shutdown complete" in api.log.read_text(errors="replace")
    api.start()
    topo.wait_for(lambda: topo.request("GET", "/health")[0] == 200, 90, "api start")


def test_outages_are_logged_as_lines_not_tracebacks(topo: Topology) -> None:
    """Through every fault above, the API logged each outage as a line, never a traceback."""
    log = topo.procs["api"].log.read_text(errors="replace")
    assert "Traceback" not in log, topo.procs["api"].tail(80)
    assert "database unavailable, answering 503" in log  # the PostgreSQL stop, said once
