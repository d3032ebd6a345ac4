"""The deployments' schedules and the run leases come from the settings (FORECASTER_*)."""

from __future__ import annotations

import pytest

from flows.schedules import DEPLOYMENTS, crons
from forecaster.app.runs import LeasePolicy
from forecaster.config import Settings
from forecaster.errors import InvalidRequest


def test_crons_default_and_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert crons(Settings()) == {
        "ingest": "30 22 * * 1-5",
        "retrain": "0 3 * * 0",
        "forecast": "0 23 * * 1-5",
    }
    monkeypatch.setenv("FORECASTER_RETRAIN_CRON", "0 4 * * 6")
    assert crons(Settings())["retrain"] == "0 4 * * 6"
    assert set(DEPLOYMENTS) == set(crons(Settings()))


def test_lease_policy_follows_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert LeasePolicy.from_settings(Settings()) == LeasePolicy()
    monkeypatch.setenv("FORECASTER_RUN_HEARTBEAT_S", "0.5")
    monkeypatch.setenv("FORECASTER_RUN_STALE_S", "3")
    monkeypatch.setenv("FORECASTER_MAX_RUNS_PER_SERIES", "4")
    policy = LeasePolicy.from_env()
    assert (policy.heartbeat_s, policy.stale_s, policy.max_per_series) == (0.5, 3.0, 4)
    with pytest.raises(InvalidRequest, match="FORECASTER_RUN_STALE_S=9 must be at least twice"):
        LeasePolicy.from_settings(Settings(run_heartbeat_s=5, run_stale_s=9))
    with pytest.raises(ValueError, match="greater than 0"):
        Settings(run_pending_s=0)


def test_deployment_entrypoints_are_importable_module_paths() -> None:
    """A file-path entrypoint ("flows/retrain.py:retrain") loads the flow as a module named
    `retrain`, which a Dask worker cannot import: every compose retrain failed. The module
    path must name the same flow object any process gets by importing the package."""
    import importlib

    from flows.deploy import deployments

    for deployment in deployments(Settings()):
        module, _, name = deployment.entrypoint.rpartition(".")
        assert ":" not in deployment.entrypoint and "/" not in deployment.entrypoint
        flow = getattr(importlib.import_module(module), name)
        assert flow.name == deployment.flow_name
        assert module.startswith("flows.")
