"""run lease and cancel, series data revision, one champion per series and strategy

- run.heartbeat_at: the lease every running flow renews; a run whose lease lapsed is failed by
  the reaper, so a killed process never blocks its series.
- run.cancel_requested_at: POST /runs/{id}/cancel; the flow stops at its next checkpoint.
- series.revision: bumped by every upsert that adds or changes a value; the precomputed
  forecast (forecast.data_revision) and the API memo are keyed by it.
- uq_model_version_champion: a partial unique index, so two champions of one series and
  strategy cannot exist (duplicates left by the old check-then-act promotion are archived
  first, keeping the most recently promoted).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHAMPION = sa.text("status = 'champion'")


def upgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("cancel_requested_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("series") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("forecast") as batch:
        batch.add_column(
            sa.Column("data_revision", sa.Integer(), nullable=False, server_default="0")
        )
    # Archive all but the latest-promoted champion of each (series, strategy).
    op.execute(
        """
        UPDATE model_version SET status = 'archived'
        WHERE status = 'champion' AND id NOT IN (
            SELECT id FROM (
                SELECT id, ROW_NUMBER() OVER (
                    PARTITION BY series_id, strategy
                    ORDER BY promoted_at DESC, id DESC
                ) AS rn
                FROM model_version WHERE status = 'champion'
            ) ranked WHERE rn = 1
        )
        """
    )
    op.create_index(
        "uq_model_version_champion",
        "model_version",
        ["series_id", "strategy"],
        unique=True,
        sqlite_where=CHAMPION,
        postgresql_where=CHAMPION,
    )


def downgrade() -> None:
    op.drop_index("uq_model_version_champion", table_name="model_version")
    with op.batch_alter_table("forecast") as batch:
        batch.drop_column("data_revision")
    with op.batch_alter_table("series") as batch:
        batch.drop_column("revision")
    with op.batch_alter_table("run") as batch:
        batch.drop_column("cancel_requested_at")
        batch.drop_column("heartbeat_at")
