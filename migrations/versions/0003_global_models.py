"""global models: one network across a group of series, one version per member

- global_model: the group's name, its members (series keys, in embedding order), the spec and
  the weights, stored once.
- model_version.global_model_id: a member's version (no weights of its own) points at them; it
  competes for its series' champion like any other version.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "global_model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group", sa.String(length=100), nullable=False),
        sa.Column("architecture", sa.String(length=32), nullable=False),
        sa.Column("strategy", sa.String(length=16), nullable=False),
        sa.Column("hyperparameters", sa.JSON(), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("embedding_dim", sa.Integer(), nullable=False),
        sa.Column("weights", sa.LargeBinary(), nullable=True),
        sa.Column("fit", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["run.id"], name="fk_global_model_run_id_run", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_global_model"),
    )
    op.create_index("ix_global_model_group", "global_model", ["group"])
    # A plain ADD COLUMN on both databases: a batch rebuild of model_version on SQLite is not
    # needed for a nullable column, and would have to recreate its partial champion index.
    if op.get_context().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE model_version ADD COLUMN global_model_id INTEGER "
            "REFERENCES global_model (id) ON DELETE CASCADE"
        )
    else:
        op.add_column("model_version", sa.Column("global_model_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_model_version_global_model_id_global_model",
            "model_version",
            "global_model",
            ["global_model_id"],
            ["id"],
            ondelete="CASCADE",
        )
    op.create_index("ix_model_version_global_model_id", "model_version", ["global_model_id"])


def downgrade() -> None:
    op.drop_index("ix_model_version_global_model_id", table_name="model_version")
    with op.batch_alter_table("model_version") as batch:
        batch.drop_column("global_model_id")
    op.drop_index("ix_global_model_group", table_name="global_model")
    op.drop_table("global_model")
