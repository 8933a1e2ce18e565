"""slip warnings: what each task's dependents were warned about, and the per-project switch

Revision ID: 0016_slip_warnings
Revises: 0015_card_updates
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0016_slip_warnings"
down_revision: str | None = "0015_card_updates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slip_warning",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("warned_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_slip_warning_project_id_project"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], name=op.f("fk_slip_warning_task_id_task"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slip_warning")),
    )
    with op.batch_alter_table("slip_warning", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slip_warning_project_id"), ["project_id"], unique=False)
        batch_op.create_index(
            "uq_slip_warning_open", ["task_id", "cause"], unique=True,
            sqlite_where=sa.text("cleared_at IS NULL"), postgresql_where=sa.text("cleared_at IS NULL"),
        )
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slip_alerts", sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_column("slip_alerts")
    with op.batch_alter_table("slip_warning", schema=None) as batch_op:
        batch_op.drop_index("uq_slip_warning_open", sqlite_where=sa.text("cleared_at IS NULL"),
                            postgresql_where=sa.text("cleared_at IS NULL"))
        batch_op.drop_index(batch_op.f("ix_slip_warning_project_id"))
    op.drop_table("slip_warning")
