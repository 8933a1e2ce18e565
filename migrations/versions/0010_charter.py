"""charter: project code, sponsoring department, budget, goals, expected results, stakeholders, the
change-approval rule, the charter version; the sponsor flag on members; charter acknowledgements

Revision ID: 0010_charter
Revises: 0009_task_plan_fields
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0010_charter"
down_revision: str | None = "0009_task_plan_fields"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("sponsor_department", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("budget", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("goals", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("expected_results", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("stakeholders", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("charter_version", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("change_approval", sa.String(length=16), server_default="pm", nullable=False))
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_sponsor", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "charter_ack",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("acknowledged_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_charter_ack_member_id_member"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_charter_ack_project_id_project"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charter_ack")),
        sa.UniqueConstraint("project_id", "member_id", name=op.f("uq_charter_ack_project_id_member_id")),
    )


def downgrade() -> None:
    op.drop_table("charter_ack")
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_column("is_sponsor")
    with op.batch_alter_table("project", schema=None) as batch_op:
        for column in ("change_approval", "charter_version", "stakeholders", "expected_results", "goals", "budget",
                       "sponsor_department", "code"):
            batch_op.drop_column(column)
