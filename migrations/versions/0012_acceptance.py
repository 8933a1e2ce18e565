"""acceptance (成果验收确认单): rounds per deliverable, and the people or departments asked to confirm

Revision ID: 0012_acceptance
Revises: 0011_change_requests
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0012_acceptance"
down_revision: str | None = "0011_change_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "acceptance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_acceptance_project_id_project"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["member.id"], name=op.f("fk_acceptance_requested_by_id_member"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], name=op.f("fk_acceptance_task_id_task"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acceptance")),
    )
    op.create_index(op.f("ix_acceptance_project_id"), "acceptance", ["project_id"], unique=False)
    op.create_index("ix_acceptance_task", "acceptance", ["task_id", "round"], unique=False)
    op.create_table(
        "acceptance_signoff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("acceptance_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["acceptance_id"], ["acceptance.id"], name=op.f("fk_acceptance_signoff_acceptance_id_acceptance"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["member.id"], name=op.f("fk_acceptance_signoff_decided_by_id_member"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_acceptance_signoff_department_id_department"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_acceptance_signoff_member_id_member"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acceptance_signoff")),
    )
    op.create_index(
        op.f("ix_acceptance_signoff_acceptance_id"), "acceptance_signoff", ["acceptance_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_acceptance_signoff_acceptance_id"), table_name="acceptance_signoff")
    op.drop_table("acceptance_signoff")
    op.drop_index("ix_acceptance_task", table_name="acceptance")
    op.drop_index(op.f("ix_acceptance_project_id"), table_name="acceptance")
    op.drop_table("acceptance")
