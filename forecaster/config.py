"""Operational settings from the environment (FORECASTER_*), read only at entry points."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from forecaster.errors import echo

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MIN_PRODUCTION_KEY = 16  # characters of FORECASTER_API_KEY that production asks for

# Series keys from the environment as a comma list ("a,b"), not pydantic-settings' JSON
SeriesKeys = Annotated[tuple[str, ...], NoDecode]


class Settings(BaseSettings):
    """Everything an operator sets; model hyperparameters live with each model version instead."""

    model_config = SettingsConfigDict(env_prefix="FORECASTER_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///forecaster.db"  # env: FORECASTER_DATABASE_URL
    api_key: SecretStr | None = None  # env: FORECASTER_API_KEY; mutating routes need it
    data_dir: Path = Path(".")  # where relative files (models cache, exports) go
    log_level: str = "INFO"
    # 0: a flow's task takes its share of the cores of its process (a Dask worker's: its cores
    # over its threads, flows/runners.py); a CLI fit leaves torch's default
    torch_threads: int = Field(default=0, ge=0)
    prefect_api_url: str | None = None  # None: flows run in-process
    # `forecaster serve` without FORECASTER_PREFECT_API_URL serves the deployments' schedules
    schedules: bool = True
    # Where the retrain flow's per-series x per-candidate tasks run, read when a flow run starts:
    # "threads" (this process), "dask" (a local cluster of retrain_workers processes, or the
    # scheduler at dask_address). dask_address alone implies "dask".
    task_runner: Literal["threads", "dask"] | None = None  # None: "dask" iff dask_address is set
    retrain_workers: int = Field(default=1, ge=1, le=1024)  # threads, or local Dask workers
    dask_address: str | None = None  # e.g. tcp://dask-scheduler:8786
    # Where training runs, read on the machine that trains: "auto" takes a GPU when torch sees one
    device: Literal["auto", "cpu", "cuda"] = "auto"
    retrain_config: Path | None = None  # YAML with the candidate list; None: built-in defaults
    # FORECASTER_PRODUCTION=1 (compose sets it): no setting is valid without an API key of at
    # least MIN_PRODUCTION_KEY characters, so no production process starts with none
    production: bool = False
    # Anonymous forecast reads that miss the cache run a model: bound their cost and number.
    forecast_max_horizon: int = Field(default=1000, ge=1, le=100_000)  # recursive models' cap
    forecast_workers: int = Field(default=2, ge=1, le=64)  # cache-missing forecasts at once
    # a page asks for a few forecasts at once: misses queue a few seconds, then 503 + Retry-After
    forecast_queue_wait_s: float = Field(default=10.0, ge=0, le=60)
    # served forecasts kept to be scored live: origins this many days before the newest one go
    forecast_log_days: int = Field(default=400, ge=1)
    # POST /api/v1/series/{key}/csv: a larger body is refused with 413 (1 MB = 1,000,000 bytes).
    # SQLite holds its write lock about 2 us per cell: 50 MB (~3M cells) is about 6 s of it
    max_upload_mb: float = Field(default=50.0, gt=0)
    # The deployments' schedules (flows/deploy.py serves them), cron strings in UTC.
    ingest_cron: str = "30 22 * * 1-5"  # 22:30 UTC, after the 16:00 ET US market close
    retrain_cron: str = "0 3 * * 0"  # Sundays 03:00 UTC
    forecast_cron: str = "0 23 * * 1-5"  # after each ingest
    # What the scheduled runs do (flows/schedules.py gives them to each schedule, not to the
    # deployment, so an API-triggered run never inherits them): the series of each schedule, a
    # comma list ("" for every series; an unknown key fails that run, naming the known ones)...
    ingest_schedule_series: SeriesKeys = ()
    retrain_schedule_series: SeriesKeys = ()
    forecast_schedule_series: SeriesKeys = ()
    # ...whether the scheduled retrain is quick, and the retrain config of the scheduled retrain
    # and of the scheduled forecast's policy (None: retrain_config); read when the worker starts
    retrain_schedule_quick: bool = False
    retrain_schedule_config: Path | None = None
    # Run leases (forecaster.app.runs): a running flow renews its lease every run_heartbeat_s; one
    # not renewed for run_stale_s fails, as does a run no worker picked up within run_pending_s.
    run_heartbeat_s: float = Field(default=5.0, gt=0)
    run_stale_s: float = Field(default=30.0, gt=0)
    # A flow's new database connections retry this long while the server refuses them (a restart,
    # a network blip) before its write fails and the run says "database unavailable"; 0: no wait
    db_retry_s: float = Field(default=60.0, ge=0)
    run_pending_s: float = Field(default=600.0, gt=0)
    max_active_runs: int = Field(default=8, ge=1)  # pending + running runs in all
    max_runs_per_series: int = Field(default=2, ge=1)  # pending + running runs touching a series

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"log_level={echo(value)} is not one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator(
        "ingest_schedule_series",
        "retrain_schedule_series",
        "forecast_schedule_series",
        mode="before",
    )
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):  # "a, b,,a" -> ("a", "b"): blanks and repeats dropped
            return tuple(dict.fromkeys(k.strip() for k in value.split(",") if k.strip()))
        return value

    @field_validator(
        "retrain_schedule_config", "ingest_cron", "retrain_cron", "forecast_cron", mode="before"
    )
    @classmethod
    def _default_when_empty(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str) and not value.strip():  # compose passes "" for an unset one
            return cls.model_fields[str(info.field_name)].default
        return value

    @field_validator("dask_address")
    @classmethod
    def _scheduler_url(cls, value: str | None) -> str | None:
        if value is not None and "://" not in value:
            raise ValueError(
                f"dask_address={echo(value)}: give the scheduler's URL, e.g. tcp://dask-scheduler:8786"
            )
        return value or None

    @property
    def runner(self) -> str:
        """The retrain flow's task runner: "threads" or "dask"."""
        return self.task_runner or ("dask" if self.dask_address else "threads")

    @model_validator(mode="after")
    def _production_key(self) -> Settings:
        key = self.api_key.get_secret_value().strip() if self.api_key is not None else None
        if self.production and (key is None or len(key) < MIN_PRODUCTION_KEY):
            given = "not set" if key is None else f"{len(key)} characters long" if key else "empty"
            raise ValueError(
                f"FORECASTER_PRODUCTION is set and FORECASTER_API_KEY is {given}: production "
                f"needs a key of at least {MIN_PRODUCTION_KEY} characters, e.g. the output of "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return self

    @field_validator("database_url")
    @classmethod
    def _supported_url(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError(
                f"database_url={echo(value)}: use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
            )
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
