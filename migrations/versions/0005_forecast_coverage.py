"""stored forecasts keep their adaptive intervals' coverage

- forecast.coverage, forecast.width: per step, the coverage measured at the version's level
  and the interval's width, as a freshly computed forecast reports them.
- forecast.coverage_origins: how many recent origins that coverage was measured over; NULL on
  rows stored before, which a read then recomputes.

With these a stored forecast answers a read in full, so `forecaster forecast` needs no model
(and no torch) when the forecast flow stored the one asked for.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("forecast") as batch:
        batch.add_column(sa.Column("coverage", sa.Float(), nullable=True))
        batch.add_column(sa.Column("width", sa.Float(), nullable=True))
        batch.add_column(sa.Column("coverage_origins", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("forecast") as batch:
        batch.drop_column("coverage_origins")
        batch.drop_column("width")
        batch.drop_column("coverage")
