"""The retrain flow's task runner and torch threads come from settings read at run time."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from prefect.task_runners import ThreadPoolTaskRunner
from prefect_dask.task_runners import DaskTaskRunner

from flows import runners
from forecaster.config import Settings

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def test_threads_by_default_with_the_configured_pool() -> None:
    runner = runners.build_task_runner(Settings(retrain_workers=3))
    assert isinstance(runner, ThreadPoolTaskRunner) and runner._max_workers == 3


def test_a_scheduler_address_means_dask_against_it() -> None:
    runner = runners.build_task_runner(Settings(dask_address="tcp://dask-scheduler:8786"))
    assert isinstance(runner, DaskTaskRunner) and runner.address == "tcp://dask-scheduler:8786"
    assert runners.flow_share(Settings(dask_address="tcp://x:8786")) is None  # workers know


def test_dask_without_an_address_is_a_local_cluster_of_processes() -> None:
    runner = runners.build_task_runner(Settings(task_runner="dask", retrain_workers=2))
    assert isinstance(runner, DaskTaskRunner) and runner.address is None
    assert runner.cluster_kwargs == {
        "n_workers": 2,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": None,
        "scheduler_kwargs": {"dashboard_address": "127.0.0.1:0"},  # not the shared 8787
    }


def test_candidates_per_task_one_on_threads_a_few_tasks_per_dask_worker() -> None:
    threads = Settings(retrain_workers=2)
    dask = Settings(task_runner="dask", retrain_workers=2)
    assert [runners.chunk_size(threads, n) for n in (1, 8, 200)] == [1, 1, 1]
    # 4 tasks per worker: 8 tasks for 2 workers, so 200 candidates go 25 to a task
    assert [runners.chunk_size(dask, n) for n in (1, 8, 9, 200)] == [1, 1, 2, 25]
    items = list(range(7))
    assert runners.chunks(items, 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert sum(runners.chunks(items, runners.chunk_size(dask, 7)), []) == items


@pytest.mark.parametrize(
    ("n_jobs", "slots", "size"),
    [
        (200, 2, 25),  # 8 tasks for 2 worker threads
        (200, 10, 5),  # a cluster scaled to 10 gets 40 tasks, not 8
        (30, 10, 1),  # fewer candidates than 4 tasks a thread: one each
        (9, 2, 2),  # rounded up: 5 tasks of at most 2
        (5, 0, 2),  # no worker counted: split as for one
    ],
)
def test_candidates_split_into_a_few_tasks_per_worker_thread(
    n_jobs: int, slots: int, size: int
) -> None:
    assert runners.candidates_per_task(n_jobs, slots=slots) == size


def test_the_split_falls_back_to_the_setting_when_no_cluster_can_be_asked() -> None:
    """Outside a flow run there is no entered Dask runner to ask: FORECASTER_RETRAIN_WORKERS."""
    remote = Settings(dask_address="tcp://127.0.0.1:1", retrain_workers=3)
    assert runners.worker_slots(remote) == 3
    assert runners.chunk_size(remote, 120) == 10  # 12 tasks for 3 workers
    assert runners.cluster_threads(ThreadPoolTaskRunner()) is None  # not a Dask runner
    # a local cluster has exactly the workers the setting asks for: nothing to ask
    assert runners.worker_slots(Settings(task_runner="dask", retrain_workers=5)) == 5


def test_settings_are_read_when_the_flow_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    placeholder = runners.FromSettings()
    monkeypatch.setenv("FORECASTER_RETRAIN_WORKERS", "5")
    first = placeholder.duplicate()
    monkeypatch.setenv("FORECASTER_TASK_RUNNER", "dask")
    second = placeholder.duplicate()
    assert isinstance(first, ThreadPoolTaskRunner) and first._max_workers == 5
    assert isinstance(second, DaskTaskRunner)


def test_each_task_gets_its_share_of_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runners, "cores", lambda: 8)
    assert runners.torch_share(workers=2) == 4
    assert runners.torch_share(workers=16) == 1  # never zero
    assert runners.torch_share(workers=2, explicit=3) == 3
    assert runners.task_threads() == 8  # not in a Dask worker: the flow passes its share
    assert runners.flow_share(Settings(retrain_workers=4)) == 2


@pytest.mark.parametrize(
    ("env", "message"),
    [
        # a host without a scheme is not a scheduler URL
        ({"FORECASTER_DASK_ADDRESS": "dask:8786"}, "give the scheduler's URL"),
        # only two runners
        ({"FORECASTER_TASK_RUNNER": "ray"}, "Input should be 'threads' or 'dask'"),
        # only three devices
        ({"FORECASTER_DEVICE": "tpu"}, "Input should be 'auto', 'cpu' or 'cuda'"),
    ],
)
def test_bad_settings_fail_at_startup_saying_what_is_valid(
    env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValueError, match=message):
        Settings()


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        ({"cpu.max": "200000 100000\n"}, 2),  # v2, `cpus: 2`
        ({"cpu.max": "150000 100000\n"}, 2),  # 1.5 cores: torch gets 2 threads
        ({"cpu.max": "max 100000\n"}, None),  # v2, no limit
        ({"cpu/cpu.cfs_quota_us": "300000", "cpu/cpu.cfs_period_us": "100000"}, 3),  # v1
        ({"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, None),  # v1, none
        ({}, None),  # no cgroup files (not Linux, or not mounted)
    ],
)
def test_a_containers_cpu_quota_is_read_from_its_cgroup(
    files: dict[str, str], quota: int | None, tmp_path: Path
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    assert runners.cpu_quota(tmp_path) == quota


def test_the_cores_are_the_affinity_capped_by_the_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    affinity = runners.cores() if runners.cpu_quota() is None else None
    monkeypatch.setattr(runners, "cpu_quota", lambda: 1)
    assert runners.cores() == 1  # a container limited to one core trains on one thread
    if affinity is not None:
        monkeypatch.setattr(runners, "cpu_quota", lambda: 10_000)
        assert runners.cores() == affinity  # a quota above the mask changes nothing


def compose_env(service: str, env: dict[str, str]) -> dict[str, str]:
    """A compose service's environment as `docker compose` resolves ${VAR:-default} in it."""
    spec = yaml.safe_load(COMPOSE.read_text())["services"][service]["environment"]

    def resolve(match: re.Match[str]) -> str:
        return env.get(match["name"]) or match["default"] or ""

    pattern = r"\$\{(?P<name>\w+)(?::[-?](?P<default>[^}]*))?\}"
    return {k: re.sub(pattern, resolve, str(v)) for k, v in spec.items()}


@pytest.mark.parametrize("service", ["dask-worker", "dask-worker-gpu"])
def test_compose_leaves_each_dask_worker_torch_on_its_own_cores(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compose fixed 2 torch threads on every worker whatever its cores; now 0 (each worker's
    cores over its one thread) unless FORECASTER_WORKER_THREADS says otherwise."""
    secrets = {"FORECASTER_DB_PASSWORD": "x", "FORECASTER_API_KEY": "ci-check-0123456789"}
    for env, threads in [(secrets, 0), ({**secrets, "FORECASTER_WORKER_THREADS": "3"}, 3)]:
        monkeypatch.setenv(
            "FORECASTER_TORCH_THREADS", compose_env(service, env)["FORECASTER_TORCH_THREADS"]
        )
        assert Settings().torch_threads == threads
    monkeypatch.setattr(runners, "cores", lambda: 6)
    assert runners.task_threads(Settings(torch_threads=0).torch_threads or None) == 6
