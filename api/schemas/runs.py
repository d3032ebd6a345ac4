"""Runs (ingest, retrain) and the health check."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Timestamp


class RunCreate(BaseModel):
    # the schema says what the route enforces: quick is for a retrain only
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"properties": {"kind": {"const": "retrain"}}},
                {"properties": {"kind": {"const": "ingest"}, "quick": {"const": False}}},
            ]
        },
    )
    kind: Literal["ingest", "retrain"]
    series: list[str] = Field(default_factory=list, description="series keys; empty: every series")
    quick: bool = Field(
        default=False, description="retrain only: the quick candidate settings (few epochs)"
    )


class RunPublic(BaseModel):
    id: int
    kind: str
    status: str = Field(description="pending | running | completed | failed | cancelled")
    parameters: dict[str, Any]
    flow_run_id: str | None
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    duration_s: float | None
    heartbeat_at: Timestamp | None = Field(
        description="the lease: renewed every few seconds while the run's process is alive"
    )
    cancel_requested_at: Timestamp | None
    error: str | None
    result: dict[str, Any]
    versions: list[int] = Field(description="model versions the run produced")
    trigger: str | None = Field(
        default=None, description="who started it: api | cli | schedule | policy | replay"
    )
    reason: str | None = Field(
        default=None, description="why: the live evidence, for a run the retrain policy started"
    )


class RunList(BaseModel):
    data: list[RunPublic]
    count: int


# --- health ----------------------------------------------------------------------------


class HealthPublic(BaseModel):
    status: Literal["ok", "unavailable"]
    database: bool
    migrations_current: bool
    schema_revision: str | None
    head_revision: str | None
    models_loaded: int
    detail: str | None = None
