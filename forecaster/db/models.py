"""SQLAlchemy 2 ORM models: series, observation, model_version, evaluation, run (DESIGN.md § Data model)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SOURCES = ("yahoo", "meteostat", "csv")
ARCHITECTURES = ("lstm", "gru", "rnn", "seq2seq_attention")
STRATEGIES = ("recursive", "direct")
MODEL_STATUSES = ("candidate", "champion", "archived", "failed")
RUN_KINDS = ("ingest", "retrain", "forecast")
RUN_TRIGGERS = ("api", "cli", "schedule", "policy", "replay")
RUN_STATUSES = ("pending", "running", "completed", "failed", "cancelled")
ACTIVE_RUN_STATUSES = ("pending", "running")


def utcnow() -> datetime:
    """Naive UTC now: every timestamp in the database is naive UTC (SQLite has no time zones)."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Series(Base):
    __tablename__ = "series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    source: Mapped[str] = mapped_column(String(20))  # yahoo | meteostat | csv
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # ticker; station id or lat/lon
    frequency: Mapped[str] = mapped_column(String(10), default="D")  # pandas alias: B, D, h
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    # Bumped by every upsert that adds or changes a value: what a cached forecast was made from.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Observation(Base):
    """Narrow on purpose: sources with different variables share one table; pivot for training."""

    __tablename__ = "observation"

    series_id: Mapped[int] = mapped_column(
        ForeignKey("series.id", ondelete="CASCADE"), primary_key=True
    )
    variable: Mapped[str] = mapped_column(String(64), primary_key=True)
    ts: Mapped[datetime] = mapped_column(DateTime, primary_key=True)  # naive UTC
    value: Mapped[float | None] = mapped_column(Float, nullable=True)  # NULL: a reported gap


class GlobalModel(Base):
    """One network trained across a group of series, its weights stored once (migration 0003).

    Each member gets a model_version row (no weights of its own, global_model_id set) holding its
    normalization, figures and status, so it competes for that member's champion like any other.
    """

    __tablename__ = "global_model"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group: Mapped[str] = mapped_column(String(100), index=True)  # the retrain config's group name
    architecture: Mapped[str] = mapped_column(String(32))
    strategy: Mapped[str] = mapped_column(String(16))
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    members: Mapped[list[Any]] = mapped_column(default=list)  # series keys, in embedding order
    embedding_dim: Mapped[int] = mapped_column(Integer, default=4)
    # loaded only when a member's model is: listings never pull the weights
    weights: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    fit: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the one training summary
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("run.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ModelVersion(Base):
    __tablename__ = "model_version"
    __table_args__ = (
        # One champion per series and strategy, by construction (migration 0002).
        Index(
            "uq_model_version_champion",
            "series_id",
            "strategy",
            unique=True,
            sqlite_where=text("status = 'champion'"),
            postgresql_where=text("status = 'champion'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), index=True)
    architecture: Mapped[str] = mapped_column(String(32))
    strategy: Mapped[str] = mapped_column(String(16))
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    feature_spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    normalization: Mapped[dict[str, Any]] = mapped_column(default=dict)
    train_start: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    train_end: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    weights: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # safetensors
    status: Mapped[str] = mapped_column(String(16), default="candidate", index=True)
    primary_metric: Mapped[str | None] = mapped_column(String(32), nullable=True)
    primary_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("run.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # a member of a global model: the weights are the global model's (this row has none)
    global_model_id: Mapped[int | None] = mapped_column(
        ForeignKey("global_model.id", ondelete="CASCADE"), nullable=True, index=True
    )
    global_model: Mapped[GlobalModel | None] = relationship(lazy="select")

    @property
    def trained(self) -> bool:
        """Trained and has weights to load: its own, or its global model's."""
        has = self.weights is not None or self.global_model_id is not None
        return has and self.status != "failed"


class Evaluation(Base):
    """One figure: a model's (or its baseline's) metric for one variable at one horizon step."""

    __tablename__ = "evaluation"
    __table_args__ = (
        UniqueConstraint(
            "model_version_id",
            "split",
            "model",
            "variable",
            "step",
            "metric",
            name="uq_evaluation_cell",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_version.id", ondelete="CASCADE"), index=True
    )
    split: Mapped[str] = mapped_column(String(32))  # test | backtest | ...
    model: Mapped[str] = mapped_column(String(32))  # "model" | "naive" | "seasonal_naive"
    variable: Mapped[str] = mapped_column(String(64))
    step: Mapped[int] = mapped_column(Integer)  # 1..H; 0 = all steps pooled
    metric: Mapped[str] = mapped_column(String(16))  # mae rmse mape smape mase coverage
    value: Mapped[float | None] = mapped_column(Float, nullable=True)


class Run(Base):
    __tablename__ = "run"
    __table_args__ = (Index("ix_run_kind_status", "kind", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # ingest | retrain | forecast
    flow_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)  # rows written, versions produced
    # The lease: a running flow renews it every few seconds; a lapsed lease means the process
    # running it is gone, and the reaper fails the run (forecaster.app.runs).
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Who started it and why (migration 0003): "policy" with the live evidence that slipped.
    trigger: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class ForecastPoint(Base):
    """Cache of a champion's forecast, so reads are instant."""

    __tablename__ = "forecast"

    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_version.id", ondelete="CASCADE"), primary_key=True
    )
    issued_at: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    variable: Mapped[str] = mapped_column(String(64), primary_key=True)
    ts: Mapped[datetime] = mapped_column(DateTime)
    value: Mapped[float] = mapped_column(Float)
    lower: Mapped[float | None] = mapped_column(Float, nullable=True)
    upper: Mapped[float | None] = mapped_column(Float, nullable=True)
    data_revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # adaptive intervals: the coverage measured at this level per step, and the interval's
    # width; coverage_origins: how many recent origins it was measured over (NULL: not kept)
    coverage: Mapped[float | None] = mapped_column(Float, nullable=True)
    width: Mapped[float | None] = mapped_column(Float, nullable=True)
    coverage_origins: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ForecastLogPoint(Base):
    """One point of a forecast a champion served, with the naive forecast of the same origin and,
    once ingested, what happened (forecaster.db.forecast_log scores it)."""

    __tablename__ = "forecast_log"
    __table_args__ = (
        Index("ix_forecast_log_target", "series_id", "variable", "ts"),  # scoring by target time
        Index("ix_forecast_log_origin", "series_id", "strategy", "origin"),  # accuracy reads
    )

    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_version.id", ondelete="CASCADE"), primary_key=True
    )
    origin: Mapped[datetime] = mapped_column(DateTime, primary_key=True)  # data end (issued_at)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    variable: Mapped[str] = mapped_column(String(64), primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    strategy: Mapped[str] = mapped_column(String(16))
    ts: Mapped[datetime] = mapped_column(DateTime)  # the target's timestamp
    value: Mapped[float] = mapped_column(Float)
    lower: Mapped[float | None] = mapped_column(Float, nullable=True)
    upper: Mapped[float | None] = mapped_column(Float, nullable=True)
    level: Mapped[float | None] = mapped_column(Float, nullable=True)
    naive: Mapped[float | None] = mapped_column(Float, nullable=True)  # last value at the origin
    actual: Mapped[float | None] = mapped_column(Float, nullable=True)  # NULL: not (yet) observed
    logged_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    scored_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
