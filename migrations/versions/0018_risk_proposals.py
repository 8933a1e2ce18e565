"""risk proposals: worried updates proposed to the PM as risks; a risk's task; the per-project switch

Revision ID: 0018_risk_proposals
Revises: 0017_task_departments
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0018_risk_proposals"
down_revision: str | None = "0017_task_departments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEVELS = ("high", "medium", "low")
_STATUSES = ("pending", "adopted", "dismissed")


def upgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(sa.Column("risk_proposals", sa.Boolean(), server_default=sa.true(), nullable=False))
    with op.batch_alter_table("risk", schema=None) as batch_op:
        batch_op.add_column(sa.Column("task_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_risk_task_id_task"), "task", ["task_id"], ["id"], ondelete="SET NULL")
    op.create_table(
        "risk_proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("worry", sa.String(length=16), nullable=False),
        sa.Column("level", sa.Enum(*_LEVELS, name="risklevel", native_enum=False, length=16, create_constraint=True),
                  nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
        sa.Column("proposed_by_id", sa.Integer(), nullable=True),
        sa.Column("proposed_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Enum(*_STATUSES, name="proposalstatus", native_enum=False, length=16,
                                    create_constraint=True), nullable=False),
        sa.Column("risk_id", sa.Integer(), nullable=True),
        sa.Column("settled_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"], name=op.f("fk_risk_proposal_project_id_project"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], name=op.f("fk_risk_proposal_task_id_task"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["proposed_by_id"], ["member.id"], name=op.f("fk_risk_proposal_proposed_by_id_member"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["risk_id"], ["risk.id"], name=op.f("fk_risk_proposal_risk_id_risk"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_proposal")),
        sa.UniqueConstraint("task_id", "worry", name=op.f("uq_risk_proposal_task_id_worry")),
    )
    with op.batch_alter_table("risk_proposal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_proposal_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("risk_proposal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_proposal_project_id"))
    op.drop_table("risk_proposal")
    with op.batch_alter_table("risk", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_risk_task_id_task"), type_="foreignkey")
        batch_op.drop_column("task_id")
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_column("risk_proposals")
