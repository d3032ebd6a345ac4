"""The retrain flow's task runner, chosen from settings when a flow run starts (not at import):
threads in this process, a local Dask cluster of worker processes, or an existing Dask scheduler.

Prefect enters `flow.task_runner.duplicate()` at the start of every flow run, so `FromSettings`
builds the concrete runner there; the flow's code is the same for all three.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from forecaster.config import Settings
from forecaster.retrain_plan import Placement

logger = logging.getLogger(__name__)


def cores() -> int:
    """CPU cores this process may use: its affinity mask (not the machine's count), capped by
    its cgroup's CPU quota, which a container's `cpus:` limit sets and the mask does not show."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    quota = cpu_quota()
    return max(1, min(n, quota)) if quota else n


def cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Whole cores of the CPU quota of the cgroup a container sees at `root` (v2 `cpu.max`,
    v1 `cpu/cpu.cfs_quota_us` over `cpu.cfs_period_us`; 1.5 cores count as 2), or None: no
    quota, or no cgroup file to read."""
    try:
        if (root / "cpu.max").exists():  # v2: "200000 100000", or "max 100000" for none
            quota, period = (root / "cpu.max").read_text().split()[:2]
        else:  # v1: -1 for none
            quota = (root / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (root / "cpu" / "cpu.cfs_period_us").read_text().strip()
        if quota in ("max", "-1"):
            return None
        return max(1, -(-int(quota) // int(period)))
    except (OSError, ValueError, ZeroDivisionError):
        return None


def build_task_runner(settings: Settings) -> TaskRunner[Any]:
    """The task runner the settings ask for (see Settings.task_runner)."""
    if settings.runner == "threads":
        return ThreadPoolTaskRunner(max_workers=settings.retrain_workers)
    from prefect_dask.task_runners import DaskTaskRunner  # only when used: distributed is heavy

    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    return DaskTaskRunner(cluster_kwargs=local_cluster_kwargs(settings.retrain_workers))


def local_cluster_kwargs(n_workers: int) -> dict[str, Any]:
    """A distributed.LocalCluster of `n_workers` processes, one task at a time each, quiet."""
    return {
        "n_workers": n_workers,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": None,  # no dashboard nobody reads...
        # ...but the scheduler still serves /health and /metrics over HTTP, by default on
        # 0.0.0.0:8787: any other Dask scheduler on the machine held it and the cluster failed
        # to start ("Port 8787 is already in use", a warning the tests treat as an error)
        "scheduler_kwargs": {"dashboard_address": "127.0.0.1:0"},
    }


CHUNKS_PER_WORKER = 4  # enough chunks that a slow one does not leave a worker idle for long


def chunk_size(settings: Settings, n_jobs: int) -> int:
    """Candidates per task: 1 on threads; on Dask, about CHUNKS_PER_WORKER tasks per worker
    thread of the cluster (`worker_slots`).

    A Prefect task run in a Dask worker process pays a fixed cost the thread pool does not (it
    rebuilds its settings context and an API client, then reports its states: 60 no-op tasks
    take about 10 s on a warm 2-worker cluster against 0.85 s on threads, bench/README.md), so
    on a cluster several small candidates share one task; each is still trained, recorded and
    reported on its own (a failure is that candidate's failed version)."""
    if settings.runner != "dask" or n_jobs <= 1:
        return 1
    return candidates_per_task(n_jobs, slots=worker_slots(settings))


def candidates_per_task(n_jobs: int, *, slots: int) -> int:
    """The chunk size that splits `n_jobs` candidates into about CHUNKS_PER_WORKER tasks for
    each of `slots` tasks the cluster runs at once."""
    tasks = CHUNKS_PER_WORKER * max(1, slots)
    return max(1, -(-n_jobs // tasks))


def worker_slots(settings: Settings) -> int:
    """Tasks the retrain's Dask cluster runs at once: for a scheduler at FORECASTER_DASK_ADDRESS,
    its workers' threads, asked of it when the flow run splits its work (compose scales the
    workers with `--scale dask-worker=N`, which no setting of the flow's process follows); for a
    local cluster, or when the scheduler cannot be asked, FORECASTER_RETRAIN_WORKERS."""
    if settings.runner == "dask" and settings.dask_address:
        threads = cluster_threads(_flow_task_runner())
        if threads:
            return threads
        if threads == 0:  # tasks wait for a worker; the split cannot know how many will come
            logger.warning(
                "no Dask worker has joined the scheduler at %s yet; splitting the work for "
                "FORECASTER_RETRAIN_WORKERS=%d",
                settings.dask_address,
                settings.retrain_workers,
            )
    return settings.retrain_workers


def cluster_threads(runner: Any) -> int | None:
    """The worker threads of the Dask cluster behind `runner` (the flow run's DaskTaskRunner;
    asking connects its client, which the first task would do anyway), or None: not a Dask
    runner, or its scheduler did not answer (the tasks will say why when they are submitted)."""
    from prefect_dask.task_runners import DaskTaskRunner  # only on Dask: distributed is heavy

    if not isinstance(runner, DaskTaskRunner):
        return None
    try:
        threads: dict[str, int] = runner.client.nthreads()  # type: ignore[no-untyped-call]
        return sum(threads.values())
    except Exception as exc:  # noqa: BLE001 - the split falls back to the setting
        logger.warning(
            "could not ask the Dask scheduler for its workers (%s: %s); splitting the work for "
            "FORECASTER_RETRAIN_WORKERS",
            type(exc).__name__,
            exc,
        )
        return None


def _flow_task_runner() -> Any:
    """The task runner the current flow run entered (FromSettings' concrete runner), or None."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    return None if context is None else context.task_runner


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    """`items` in consecutive runs of `size` (the last may be shorter)."""
    return [items[i : i + size] for i in range(0, len(items), max(1, size))]


def torch_share(*, workers: int, explicit: int | None = None) -> int:
    """Torch threads for one task when `workers` tasks share this machine's cores."""
    return explicit or max(1, cores() // max(1, workers))


def flow_share(settings: Settings) -> int | None:
    """Torch threads per task the flow can work out: the cores over the tasks running at once in
    threads or on a local cluster; None for a remote scheduler (each worker knows its own)."""
    if settings.runner == "dask" and settings.dask_address:
        return None
    return torch_share(workers=settings.retrain_workers)


def task_threads(explicit: int | None = None) -> int:
    """Torch threads for the task running now: `explicit` when given, else its share of the
    cores of the process it runs in (a Dask worker's cores over the tasks it runs at once; a
    thread's, over the flow's thread pool, given as `explicit` by the flow)."""
    if explicit:
        return explicit
    worker = _dask_worker()
    if worker is None:
        return max(1, cores())
    return torch_share(workers=worker.state.nthreads)


def _dask_worker() -> Any:
    """The Dask worker running this task, or None. A Dask worker has imported distributed; this
    never imports it (its import reconfigures logging, which silenced the API's access log)."""
    if "distributed" not in sys.modules:
        return None
    from distributed import get_worker

    try:
        return get_worker()
    except ValueError:  # not inside a Dask worker
        return None


class FromSettings(TaskRunner[Any]):
    """A placeholder on the flow: each flow run gets the runner its settings ask for."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def duplicate(self) -> TaskRunner[Any]:  # type: ignore[override]  # a concrete runner
        return build_task_runner(Settings())  # the environment now, not at import

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("FromSettings is replaced by a concrete task runner at flow run time")


def where(torch_threads: int) -> Placement:
    """Where the current task runs: this process's id and its Dask worker's address, if any,
    training with `torch_threads` threads."""
    worker = _dask_worker()
    return Placement(os.getpid(), None if worker is None else worker.address, torch_threads)
