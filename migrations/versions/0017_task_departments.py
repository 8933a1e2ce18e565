"""task departments and pending imports: a task's cooperating departments after its first, and an
import previewed in chat waiting for /导入 确认

Revision ID: 0017_task_departments
Revises: 0016_slip_warnings
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0017_task_departments"
down_revision: str | None = "0016_slip_warnings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task_department",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_task_department_department_id_department"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], name=op.f("fk_task_department_task_id_task"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task_id", "department_id", name=op.f("pk_task_department")),
    )
    op.create_table(
        "pending_import",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_pending_import_member_id_member"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_pending_import_project_id_project"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_pending_import")),
    )


def downgrade() -> None:
    op.drop_table("pending_import")
    op.drop_table("task_department")
