"""The production topology of docker-compose.yml, started as plain processes on loopback.

There is no container engine here, so this reads docker-compose.yml itself (each service's
`command` and `environment`, with compose's `${VAR:?..}` / `${VAR:-..}` interpolation) and
starts the same commands with the same environment, only with the service names mapped to
127.0.0.1 and free ports: the compose file is the one place both read, so they cannot drift.

    PostgreSQL     tests/pg.py's throwaway cluster, set up as the postgres image would
                   (POSTGRES_USER/PASSWORD/DB, then docker/initdb/*.sql)
    migrate        `forecaster db upgrade`, run to completion first
    prefect-server `prefect server start` on its PostgreSQL database
    dask-scheduler `dask scheduler`;  dask-worker x N: `dask worker tcp://…`
    worker         `python -m flows.deploy` (serves the deployments, retrains on Dask)
    api            `forecaster serve` with FORECASTER_PRODUCTION=1

Used by tests/production/ (the faults) and bench/scale.py (the figures). Each process runs in
its own session (so a kill reaches its children too) with its log in the topology's folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.pg import Cluster, free_port, start_cluster

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
BIN = Path(sys.executable).parent
API_KEY = "topology-test-key-0123456789"
DB_PASSWORD = "topology-test-password"

_VAR = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def interpolate(text: str, values: Mapping[str, str]) -> str:
    """Compose's variable interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error}."""

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2) or "", m.group(3) or ""
        value = values.get(name)
        if op.endswith("?") and not value:
            raise KeyError(f"{name}: {arg}")
        if op.endswith("-") and not value:
            return arg
        return value or ""

    return _VAR.sub(one, text)


def _interpolated(node: Any, values: Mapping[str, str]) -> Any:
    """Every string in the parsed file interpolated, as compose does (after parsing YAML)."""
    if isinstance(node, str):
        return interpolate(node, values)
    if isinstance(node, dict):
        return {k: _interpolated(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolated(v, values) for v in node]
    return node


def compose_services(values: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """docker-compose.yml's services, interpolated with `values` (profiles left out)."""
    spec = _interpolated(yaml.safe_load(COMPOSE.read_text()), values)
    return {
        name: service
        for name, service in spec["services"].items()
        if not service.get("profiles")  # the gpu worker: opt-in
    }


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        out = self.log.open("ab")
        self.popen = subprocess.Popen(
            self.argv,
            cwd=ROOT,  # the image's WORKDIR holds the same tree
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # a killed test run leaves no service behind
        )
        out.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        """`sig` to the process and everything in its session (a container's processes)."""
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(10)

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after `grace` seconds (compose's stop); the exit code."""
        if self.popen is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            return self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.popen.returncode

    def tail(self, n: int = 40) -> str:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return f"--- {self.name} ({self.log})\n" + "\n".join(lines[-n:])


@dataclass
class Topology:
    """The compose services as processes; `start()` brings them up in compose's order."""

    root: Path
    dask_workers: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)  # compose's ${VAR} values (.env)
    pg: Cluster | None = None
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, Proc] = field(default_factory=dict)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)

    # --- addresses ---------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    @property
    def prefect_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['prefect-server']}/api"

    @property
    def database_url(self) -> str:
        return self.env_of("api")["FORECASTER_DATABASE_URL"]

    # --- compose -> processes ---------------------------------------------------------------

    def _localise(self, text: str) -> str:
        """Service names and 0.0.0.0 to loopback, their container ports to the free ones."""
        text = text.replace("postgres:5432", f"127.0.0.1:{self.ports['postgres']}")
        text = text.replace("prefect-server:4200", f"127.0.0.1:{self.ports['prefect-server']}")
        text = text.replace("dask-scheduler:8786", f"127.0.0.1:{self.ports['dask-scheduler']}")
        return text.replace("0.0.0.0", "127.0.0.1")

    def env_of(self, service: str) -> dict[str, str]:
        """The service's compose environment, localised, over a minimal process environment."""
        declared = self.services[service].get("environment") or {}
        env = {
            "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(self.root / service),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "PREFECT_HOME": str(self.root / service / ".prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
        }
        # a key with no value passes the host's value in compose: here there is none
        env.update({k: self._localise(str(v)) for k, v in declared.items() if v is not None})
        env.update(self.extra_env)
        return env

    def argv_of(self, service: str) -> list[str]:
        """The service's command, localised; its listening port set to the free one."""
        argv = [self._localise(str(a)) for a in self.services[service]["command"]]
        if argv[0] == "python":
            argv[0] = sys.executable
        elif (BIN / argv[0]).exists():
            argv[0] = str(BIN / argv[0])
        port = self.ports.get(service)
        if port is not None and service != "postgres":
            if "--port" in argv:
                argv[argv.index("--port") + 1] = str(port)
            else:
                argv += ["--port", str(port)]
        return argv

    def proc(self, service: str, name: str | None = None) -> Proc:
        name = name or service
        (self.root / service).mkdir(parents=True, exist_ok=True)
        proc = Proc(name, self.argv_of(service), self.env_of(service), self.root / f"{name}.log")
        self.procs[name] = proc
        return proc

    # --- bring-up ----------------------------------------------------------------------------

    def start(self) -> Topology:
        self.ports = {
            name: free_port() for name in ("postgres", "prefect-server", "dask-scheduler", "api")
        }
        self.pg = start_cluster()
        self.ports["postgres"] = self.pg.port
        self.services = compose_services(
            {"FORECASTER_API_KEY": API_KEY, "FORECASTER_DB_PASSWORD": DB_PASSWORD, **self.values}
        )
        self._postgres_like_the_image()
        migrate = subprocess.run(
            self.argv_of("migrate"),
            cwd=ROOT,
            env=self.env_of("migrate"),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if migrate.returncode != 0:
            raise RuntimeError(f"migrate failed: {migrate.stdout}\n{migrate.stderr}")
        self.proc("prefect-server").start()
        self.proc("dask-scheduler").start()
        self.wait_for(lambda: http_ok(self.prefect_url + "/health"), 180, "prefect-server")
        self.wait_for(lambda: port_open(self.ports["dask-scheduler"]), 60, "dask-scheduler")
        for i in range(self.dask_workers):
            self.proc("dask-worker", f"dask-worker-{i + 1}").start()
        self.proc("worker").start()
        self.proc("api").start()
        self.wait_for(lambda: http_ok(self.api_url + "/health"), 120, "api")
        self.wait_for(self.deployments_ready, 120, "worker (deployments READY)")
        self.wait_for(lambda: len(self.dask_worker_addresses()) == self.dask_workers, 90, "dask")
        return self

    def _postgres_like_the_image(self) -> None:
        """What the postgres image does on a fresh volume: POSTGRES_USER with POSTGRES_PASSWORD,
        POSTGRES_DB owned by it, then docker/initdb/*.sql as that user."""
        import psycopg

        assert self.pg is not None
        env = self.services["postgres"]["environment"]
        user, password, db = env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env["POSTGRES_DB"]
        admin = self.pg.admin_url.replace("postgresql+psycopg", "postgresql")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {user} LOGIN SUPERUSER PASSWORD '{password}'")
            conn.execute(f"CREATE DATABASE {db} OWNER {user}")
        own = f"postgresql://{user}:{password}@127.0.0.1:{self.pg.port}/{db}"
        with psycopg.connect(own, autocommit=True) as conn:
            for script in sorted((ROOT / "docker" / "initdb").glob("*.sql")):
                conn.execute(script.read_text())  # type: ignore[arg-type]

    def wait_for(self, ok: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if ok():
                    return
            time.sleep(0.5)
        raise RuntimeError(f"{what} not up within {timeout:.0f} s\n{self.logs()}")

    # --- probes ------------------------------------------------------------------------------

    def deployments_ready(self) -> bool:
        check = subprocess.run(
            [sys.executable, "-m", "flows.deploy", "--check"],
            cwd=ROOT,
            env=self.env_of("worker"),
            capture_output=True,
            timeout=60,
            check=False,
        )
        return check.returncode == 0

    def prefect_ok(self) -> bool:
        return http_ok(self.prefect_url + "/health")

    def dask_worker_addresses(self) -> list[str]:
        from distributed import Client

        with Client(f"tcp://127.0.0.1:{self.ports['dask-scheduler']}", timeout=10) as client:
            return sorted(client.scheduler_info()["workers"])

    def logs(self, n: int = 40) -> str:
        return "\n".join(p.tail(n) for p in self.procs.values())

    # --- HTTP --------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        data: bytes | None = None,
        content_type: str = "application/json",
        timeout: float = 30,
    ) -> tuple[int, Any, Mapping[str, str]]:
        """(status, parsed JSON or text, headers) of a request to the API with the key."""
        payload = (
            data if data is not None else (None if body is None else json.dumps(body).encode())
        )
        req = urllib.request.Request(self.api_url + path, data=payload, method=method)
        req.add_header("X-API-Key", API_KEY)
        if payload is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw, status, headers = resp.read(), resp.status, resp.headers
        except urllib.error.HTTPError as err:
            raw, status, headers = err.read(), err.code, err.headers
        try:
            return status, json.loads(raw), headers
        except ValueError:
            return status, raw.decode(errors="replace"), headers

    def wait_run(self, run_id: int, timeout: float = 300) -> dict[str, Any]:
        """The run once it has ended (completed, failed or cancelled)."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                status, last, _ = self.request("GET", f"/api/v1/runs/{run_id}", timeout=10)
                if status == 200 and last["status"] in ("completed", "failed", "cancelled"):
                    return dict(last)
            time.sleep(1)
        raise AssertionError(
            f"run {run_id} did not end within {timeout:.0f} s: {last}\n{self.logs()}"
        )

    # --- teardown ----------------------------------------------------------------------------

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.kill()
        if self.pg is not None:
            self.pg.stop()


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the test process dies (Linux prctl)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return bool(resp.status == 200)


def port_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        return True


@contextlib.contextmanager
def topology(
    dask_workers: int = 2, values: Mapping[str, str] | None = None, **extra_env: str
) -> Iterator[Topology]:
    """A started topology in a temporary folder; everything stopped and removed after.
    `values`: compose's variables (what an operator's .env sets); `extra_env`: set on every
    process beside the compose environment."""
    root = Path(tempfile.mkdtemp(prefix="forecaster-topology-"))
    topo = Topology(
        root, dask_workers=dask_workers, extra_env=dict(extra_env), values=dict(values or {})
    )
    try:
        yield topo.start()
    finally:
        topo.stop()
        if os.environ.get("FORECASTER_KEEP_TOPOLOGY") != "1":
            shutil.rmtree(root, ignore_errors=True)
