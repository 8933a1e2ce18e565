"""pending updates: what the bot asked a member to confirm (“是要把 #1 标记为已完成吗？”)

Revision ID: 0007_pending_updates
Revises: 0006_reply_routes
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0007_pending_updates"
down_revision: str | None = "0006_reply_routes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_update",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("proposed_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updates", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_pending_update_member_id_member"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_pending_update_project_id_project"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_pending_update")),
    )
    with op.batch_alter_table("pending_update", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pending_update_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pending_update", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_update_project_id"))
    op.drop_table("pending_update")
