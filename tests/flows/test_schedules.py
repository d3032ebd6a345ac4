"""The deployments' schedules and the run leases come from the settings (FORECASTER_*)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from flows.schedules import DEPLOYMENTS, crons, schedule_parameters
from forecaster.app.runs import LeasePolicy
from forecaster.config import Settings
from forecaster.db import runs as runs_db
from forecaster.db import series as series_db
from forecaster.errors import InvalidData, InvalidRequest
from tests.flows.test_runners import compose_env


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


def test_scheduled_runs_cover_every_series_with_the_full_config_by_default() -> None:
    from flows.deploy import deployments

    by_kind = {d.name: d for d in deployments(Settings())}
    assert {k: d.schedules[0].parameters for k, d in by_kind.items()} == {
        "ingest": {"series": []},
        "retrain": {"series": [], "quick": False, "config_path": None},
        "forecast": {"series": [], "config_path": None},
    }


def test_an_operator_sets_what_the_scheduled_runs_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Sunday retrain ran the full config on every series, whatever the operator wanted."""
    from flows.deploy import deployments

    config = tmp_path / "weekly.yaml"
    config.write_text("candidates: [{architecture: gru, strategy: direct}]\n")
    monkeypatch.setenv("FORECASTER_RETRAIN_SCHEDULE_SERIES", " MSFT, chicago,,MSFT ")
    monkeypatch.setenv("FORECASTER_RETRAIN_SCHEDULE_QUICK", "true")
    monkeypatch.setenv("FORECASTER_RETRAIN_SCHEDULE_CONFIG", str(config))
    monkeypatch.setenv("FORECASTER_INGEST_SCHEDULE_SERIES", "MSFT")
    by_kind = {d.name: d for d in deployments(Settings())}
    assert {k: d.schedules[0].parameters for k, d in by_kind.items()} == {
        "ingest": {"series": ["MSFT"]},
        "retrain": {"series": ["MSFT", "chicago"], "quick": True, "config_path": str(config)},
        "forecast": {"series": [], "config_path": str(config)},  # its policy's retrains
    }
    assert all(d.parameters == {} for d in by_kind.values())  # nothing for API-started runs
    # the crons are the same schedules, in UTC
    assert [d.schedules[0].schedule.cron for d in by_kind.values()] == list(
        crons(Settings()).values()
    )
    assert {d.schedules[0].schedule.timezone for d in by_kind.values()} == {"UTC"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # no file there: the worker stops at start, not on Sunday night
        (None, "FORECASTER_RETRAIN_SCHEDULE_CONFIG: cannot read retrain config '{path}'"),
        # a config with nothing to train
        (
            "metric: mase\n",
            "FORECASTER_RETRAIN_SCHEDULE_CONFIG: retrain config {path} lists no candidates",
        ),
    ],
)
def test_a_bad_schedule_config_stops_the_worker_at_start(
    text: str | None, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "weekly.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(InvalidData) as caught:
        schedule_parameters(Settings(retrain_schedule_config=path))
    assert str(caught.value).startswith(message.format(path=path))


def test_an_empty_schedule_setting_means_every_series_and_the_default_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Compose passes "" for settings the operator left unset."""
    monkeypatch.setenv("FORECASTER_RETRAIN_SCHEDULE_SERIES", "")
    monkeypatch.setenv("FORECASTER_RETRAIN_SCHEDULE_CONFIG", "")
    settings = Settings()
    assert (settings.retrain_schedule_series, settings.retrain_schedule_config) == ((), None)
    assert schedule_parameters(settings)["retrain"]["config_path"] is None


@pytest.mark.usefixtures("prefect_harness")
def test_scheduled_runs_get_the_schedules_parameters_and_api_runs_do_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a real Prefect server: the runs its scheduler creates carry the operator's settings;
    a run the API starts from the same deployment keeps exactly the parameters it passed (a
    deployment-level default would have made every API retrain quick)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    from flows.deploy import deployments

    monkeypatch.setenv("FORECASTER_RETRAIN_SCHEDULE_SERIES", "MSFT,chicago")
    monkeypatch.setenv("FORECASTER_RETRAIN_SCHEDULE_QUICK", "true")
    retrain = {d.name: d for d in deployments(Settings())}["retrain"]
    deployment_id = retrain.apply()
    try:
        with get_client(sync_client=True) as client:
            response = client._client.post(
                f"/deployments/{deployment_id}/schedule", json={"min_runs": 1, "max_runs": 1}
            )
            response.raise_for_status()
            scheduled = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
            )
            from_api = client.create_flow_run_from_deployment(
                deployment_id, parameters={"series": ["MSFT"], "run_id": 7}
            )
            client.delete_flow_run(from_api.id)
    finally:
        with get_client(sync_client=True) as client:
            client.delete_deployment(deployment_id)  # and its scheduled runs
    # the scheduler's runs (the deployment is shared by name with other tests' API runs)
    assert [r.parameters for r in scheduled if r.auto_scheduled] == [
        {"series": ["MSFT", "chicago"], "quick": True, "config_path": None}
    ]
    assert from_api.parameters == {"series": ["MSFT"], "run_id": 7}


@pytest.mark.usefixtures("prefect_harness")
def test_a_scheduled_run_naming_an_unknown_series_fails_saying_which_are_known(
    database_url: str, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys are checked when the run starts (a series may be ingested after the worker starts):
    its Prefect flow run fails naming the key and the stored series, and nothing runs."""
    from flows.ingest import ingest
    from flows.retrain import retrain

    with session_factory.begin() as session:
        series_db.register_series(session=session, key="chicago", source="csv", frequency="D")
    monkeypatch.setenv("FORECASTER_RETRAIN_SCHEDULE_SERIES", "chicago,chicgo")
    monkeypatch.setenv("FORECASTER_INGEST_SCHEDULE_SERIES", "chicgo")
    parameters = schedule_parameters(Settings())
    for flow in (retrain, ingest):
        state = flow(**parameters[flow.name], database_url=database_url, return_state=True)
        assert state.is_failed()
        assert state.message.endswith(
            "UnknownSeries: unknown series 'chicgo'; known series: chicago"
        )
    with session_factory.begin() as session:
        assert runs_db.list_runs(session=session) == []  # refused before any run was claimed


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        # nothing set in compose's environment: the built-in crons, every series, full config
        ({}, {"retrain": {"series": [], "quick": False, "config_path": None}}),
        # what an operator puts in .env beside docker-compose.yml reaches the worker
        (
            {
                "FORECASTER_RETRAIN_CRON": "0 4 * * 6",
                "FORECASTER_RETRAIN_SCHEDULE_SERIES": "MSFT,chicago",
                "FORECASTER_RETRAIN_SCHEDULE_QUICK": "true",
            },
            {"retrain": {"series": ["MSFT", "chicago"], "quick": True, "config_path": None}},
        ),
    ],
)
def test_compose_passes_the_schedule_settings_to_the_worker(
    operator: dict[str, str],
    expected: dict[str, dict[str, object]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.deploy import deployments

    secrets = {"FORECASTER_DB_PASSWORD": "x", "FORECASTER_API_KEY": "ci-check-0123456789"}
    for name, value in compose_env("worker", {**secrets, **operator}).items():
        monkeypatch.setenv(name, value)
    by_kind = {d.name: d for d in deployments(Settings())}
    assert by_kind["retrain"].schedules[0].parameters == expected["retrain"]
    cron = operator.get("FORECASTER_RETRAIN_CRON", "0 3 * * 0")
    assert by_kind["retrain"].schedules[0].schedule.cron == cron
    assert by_kind["ingest"].schedules[0].schedule.cron == "30 22 * * 1-5"  # "" is the default
