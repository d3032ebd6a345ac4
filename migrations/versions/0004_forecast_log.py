"""forecast log (every served champion forecast, scored as actuals arrive), run trigger and reason

- forecast_log: one row per (model version, origin, step, variable) a champion served, with its
  interval, the naive forecast of the same origin and, once ingested, the actual; indexed for
  scoring by target time and for accuracy reads by series, strategy and origin.
- run.trigger / run.reason: who started a run (api, cli, schedule, policy, replay) and why (the
  live evidence that made the retrain policy start it).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 16:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "forecast_log",
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.DateTime(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("variable", sa.String(length=64), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.String(length=16), nullable=False),
        sa.Column("ts", sa.DateTime(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("lower", sa.Float(), nullable=True),
        sa.Column("upper", sa.Float(), nullable=True),
        sa.Column("level", sa.Float(), nullable=True),
        sa.Column("naive", sa.Float(), nullable=True),
        sa.Column("actual", sa.Float(), nullable=True),
        sa.Column("logged_at", sa.DateTime(), nullable=False),
        sa.Column("scored_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_version.id"],
            name="fk_forecast_log_model_version_id_model_version",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["series.id"],
            name="fk_forecast_log_series_id_series",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "model_version_id", "origin", "step", "variable", name="pk_forecast_log"
        ),
    )
    op.create_index("ix_forecast_log_target", "forecast_log", ["series_id", "variable", "ts"])
    op.create_index("ix_forecast_log_origin", "forecast_log", ["series_id", "strategy", "origin"])
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("trigger", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.drop_column("reason")
        batch.drop_column("trigger")
    op.drop_index("ix_forecast_log_origin", table_name="forecast_log")
    op.drop_index("ix_forecast_log_target", table_name="forecast_log")
    op.drop_table("forecast_log")
