"""Steps the production test and bench/scale.py share: load series over HTTP, start a retrain,
wait until training is on the cluster, read who is served, check nothing was written late."""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa

from tests.topology import ROOT, Topology

WEATHER = ROOT / "data" / "weather"
SERIES = ("chicago", "seattle", "auckland", "mumbai")
ROWS = 400  # the last 400 days of each station: enough for lookback 28 + 10 backtest origins


def station_csv(name: str, rows: int = ROWS, shift: float = 0.0) -> bytes:
    """The station's last `rows` days, tmax and tmin, as a CSV body (shifted in level by
    `shift` degrees for the bench's extra copies)."""
    frame = pd.read_csv(WEATHER / f"{name}_daily.csv", usecols=["time", "tmax", "tmin"])
    frame = frame.dropna().tail(rows)
    frame[["tmax", "tmin"]] += shift
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode()


def upload(topo: Topology, key: str, body: bytes) -> None:
    """POST the CSV to the API: the production way to load a file (one transaction, its run
    recorded as completed when the route answers)."""
    status, out, _ = topo.request(
        "POST", f"/api/v1/series/{key}/csv?freq=D", data=body, content_type="text/csv"
    )
    assert status == 201, (status, out)
    assert out["values"] > 0, out


def ingest_series(topo: Topology, keys: tuple[str, ...] = SERIES) -> None:
    for key in keys:
        upload(topo, key, station_csv(key))


@dataclass(frozen=True)
class Retrain:
    id: int
    flow_run_id: str | None

    def prefect_state(self, topo: Topology, timeout: float = 30) -> str | None:
        """The Prefect flow run's state type once it is no longer RUNNING/PENDING (or the last)."""
        import json
        import urllib.request

        state = None
        deadline = time.monotonic() + timeout
        while self.flow_run_id and time.monotonic() < deadline:
            url = f"{topo.prefect_url}/flow_runs/{self.flow_run_id}"
            with urllib.request.urlopen(url, timeout=10) as resp:
                state = (json.loads(resp.read()).get("state") or {}).get("type")
            if state not in ("RUNNING", "PENDING", "SCHEDULED"):
                return state
            time.sleep(1)
        return state


def start_retrain(topo: Topology, series: list[str] | None = None) -> Retrain:
    status, body, _ = topo.request(
        "POST", "/api/v1/runs", {"kind": "retrain", "series": series or []}
    )
    assert status == 202, body
    deadline = time.monotonic() + 60
    while not body.get("flow_run_id") and time.monotonic() < deadline:
        time.sleep(0.5)
        body = topo.request("GET", f"/api/v1/runs/{body['id']}")[1]
    return Retrain(int(body["id"]), body.get("flow_run_id"))


def wait_processing(topo: Topology, timeout: float = 120) -> None:
    """Until a Dask worker is running one of the run's training tasks."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{topo.ports['dask-scheduler']}"
    with Client(address, timeout=10) as client:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(client.processing().values()):
                time.sleep(1)  # into the fit, not at its first line
                return
            time.sleep(0.2)
    raise AssertionError(f"no training task reached the cluster within {timeout:.0f} s")


def champions(topo: Topology) -> dict[str, list[int]]:
    """Series key -> the version ids serving it (every strategy)."""
    status, body, _ = topo.request("GET", "/api/v1/models?status=champion")
    assert status == 200, body
    served: dict[str, list[int]] = {}
    for m in body["data"]:
        served.setdefault(m["series"], []).append(m["id"])
    return {k: sorted(v) for k, v in served.items()}


def assert_nothing_after(topo: Topology, run_id: int) -> None:
    late = late_versions(topo, run_id)
    assert not late, f"run {run_id} wrote versions after it ended: {late}"


# --- faults: each injects one, restores what compose's restart policy would, and measures -----


@dataclass
class Outcome:
    """What a fault did to the run it hit: its final row, and seconds from the fault (or, for an
    outage, from the service's return) to that final status."""

    fault: str
    run: dict[str, Any]
    seconds: float
    late: list[Any] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    measured: str = "to its final status"  # what `seconds` measures

    @property
    def status(self) -> str:
        return str(self.run["status"])

    @property
    def error(self) -> str:
        return str(self.run.get("error") or "")

    def line(self) -> str:
        late = f", {len(self.late)} written late" if self.late else ", nothing written late"
        return (
            f"{self.fault}: run {self.run['id']} {self.status}; {self.seconds:.1f} s "
            f"{self.measured}{late}"
        )


def kill_dask_worker(topo: Topology) -> Outcome:
    """kill -9 of a Dask worker while the run's training is on it; compose restarts it."""
    run = start_retrain(topo)
    wait_processing(topo)
    victim = topo.procs["dask-worker-1"]
    t0 = time.monotonic()
    victim.kill()
    try:
        done = topo.wait_run(run.id, timeout=240)
        seconds = time.monotonic() - t0
    finally:
        victim.start()
        topo.wait_for(lambda: len(topo.dask_worker_addresses()) == topo.dask_workers, 90, "dask")
    return Outcome(
        "kill -9 a Dask worker",
        done,
        seconds,
        late_versions(topo, run.id),
        measured="from the kill to the run's final status (its task moved)",
    )


def kill_prefect_worker(topo: Topology, settle_s: float = 15.0) -> Outcome:
    """kill -9 of the deployments' worker (and its flow-run process) mid-retrain; the lease
    lapses and the API's reaper ends the run; compose restarts the worker."""
    run = start_retrain(topo)
    wait_processing(topo)
    worker = topo.procs["worker"]
    t0 = time.monotonic()
    worker.kill()
    try:
        done = topo.wait_run(run.id, timeout=180)
        seconds = time.monotonic() - t0
        time.sleep(settle_s)  # what it left on the cluster ends or is cancelled, unregistered
        state = run.prefect_state(topo)
    finally:
        worker.start()
        topo.wait_for(topo.deployments_ready, 120, "worker restart")
    outcome = Outcome(
        "kill -9 the Prefect worker",
        done,
        seconds,
        late_versions(topo, run.id),
        measured="from the kill to the run's final status (reaped)",
    )
    outcome.notes["prefect_state"] = state
    return outcome


def restart_prefect_server(topo: Topology) -> Outcome:
    """The Prefect server stopped (a POST /runs meanwhile), started again; then a retrain."""
    server = topo.procs["prefect-server"]
    server.stop(grace=15)
    try:
        refused = topo.request("POST", "/api/v1/runs", {"kind": "retrain"})
    finally:
        server.start()
    t0 = time.monotonic()
    topo.wait_for(topo.prefect_ok, 120, "prefect-server restart")
    worker_alive = topo.procs["worker"].alive()
    topo.wait_for(topo.deployments_ready, 120, "deployments served again")
    ready = time.monotonic() - t0
    run = start_retrain(topo)
    done = topo.wait_run(run.id)
    outcome = Outcome(
        "Prefect server restart",
        done,
        ready,
        late_versions(topo, run.id),
        measured="from its start to the deployments served again",
    )
    outcome.notes.update(refused=refused, worker_alive=worker_alive)
    return outcome


READS = (
    "/api/v1/series",
    f"/api/v1/series/{SERIES[0]}",
    f"/api/v1/series/{SERIES[0]}/observations?limit=5",
    "/api/v1/models",
    "/api/v1/runs",
    f"/api/v1/forecasts/{SERIES[0]}",
)


def postgres_outage(topo: Topology, down_s: float = 20.0) -> Outcome:
    """PostgreSQL stopped for `down_s` seconds mid-retrain while a reader polls READS."""
    assert topo.pg is not None
    run = start_retrain(topo)
    wait_processing(topo)
    seen: list[tuple[str, int, Any, str | None]] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            for path in READS:
                try:
                    status, body, headers = topo.request("GET", path, timeout=15)
                except OSError as exc:
                    seen.append((path, 0, repr(exc), None))
                    continue
                seen.append((path, status, body, headers.get("Retry-After")))
            time.sleep(0.5)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    topo.pg.pause()
    try:
        time.sleep(down_s)
    finally:
        topo.pg.resume()
    t0 = time.monotonic()
    try:
        done = topo.wait_run(run.id, timeout=300)
    finally:
        stop.set()
        reader.join(30)
    outcome = Outcome(
        f"PostgreSQL down {down_s:.0f} s",
        done,
        time.monotonic() - t0,
        late_versions(topo, run.id),
        measured="from PostgreSQL's return to the run's final status",
    )
    outcome.notes["reads"] = seen
    outcome.notes["worker_alive"] = topo.procs["worker"].alive()
    return outcome


def kill_api(topo: Topology) -> Outcome:
    """kill -9 of the API mid-retrain (the run is the worker's); compose restarts it."""
    api = topo.procs["api"]
    run = start_retrain(topo)
    t0 = time.monotonic()
    api.kill()
    api.start()
    topo.wait_for(lambda: topo.request("GET", "/health")[0] == 200, 90, "api restart")
    done = topo.wait_run(run.id)
    return Outcome(
        "kill -9 the API (restarted at once)",
        done,
        time.monotonic() - t0,
        late_versions(topo, run.id),
        measured="from the kill to the run's final status (the run went on)",
    )


def late_versions(topo: Topology, run_id: int) -> list[Any]:
    """Versions of run `run_id` created after the run's row says it ended."""
    engine = sa.create_engine(topo.database_url)
    try:
        with engine.connect() as conn:
            finished = conn.execute(
                sa.text("SELECT finished_at FROM run WHERE id = :id"), {"id": run_id}
            ).scalar_one()
            assert finished is not None, f"run {run_id} has not ended"
            return list(
                conn.execute(
                    sa.text(
                        "SELECT id, created_at FROM model_version "
                        "WHERE run_id = :id AND created_at > :end"
                    ),
                    {"id": run_id, "end": finished},
                ).all()
            )
    finally:
        engine.dispose()
