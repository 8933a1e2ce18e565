"""change requests (变更申请单): numbered C1, C2… per project, with their plan, impact and approvals

Revision ID: 0011_change_requests
Revises: 0010_charter
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0011_change_requests"
down_revision: str | None = "0010_charter"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_change_no", sa.Integer(), server_default="1", nullable=False))
    op.create_table(
        "change_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("impact", sa.Text(), nullable=True),
        sa.Column("goal_impact", sa.Text(), nullable=True),
        sa.Column("budget_impact", sa.String(length=200), nullable=True),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("pm_approved_by_id", sa.Integer(), nullable=True),
        sa.Column("pm_approved_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sponsor_approved_by_id", sa.Integer(), nullable=True),
        sa.Column("sponsor_approved_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["member.id"], name=op.f("fk_change_request_decided_by_id_member"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["pm_approved_by_id"], ["member.id"], name=op.f("fk_change_request_pm_approved_by_id_member"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_change_request_project_id_project"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["member.id"], name=op.f("fk_change_request_requested_by_id_member"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sponsor_approved_by_id"], ["member.id"], name=op.f("fk_change_request_sponsor_approved_by_id_member"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_request")),
        sa.UniqueConstraint("project_id", "number", name=op.f("uq_change_request_project_id_number")),
    )


def downgrade() -> None:
    op.drop_table("change_request")
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_column("next_change_no")
