"""retrospective: each goal's result (项目总结报告) and the 复盘 entries (好 / 改进 / 复用)

Revision ID: 0013_retrospective
Revises: 0012_acceptance
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0013_retrospective"
down_revision: str | None = "0012_acceptance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "goal_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("goal_index", sa.Integer(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("set_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_goal_result_project_id_project"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["set_by_id"], ["member.id"], name=op.f("fk_goal_result_set_by_id_member"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goal_result")),
        sa.UniqueConstraint("project_id", "goal_index", name=op.f("uq_goal_result_project_id_goal_index")),
    )
    op.create_table(
        "retro_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["action_id"], ["action_item.id"], name=op.f("fk_retro_entry_action_id_action_item"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["member.id"], name=op.f("fk_retro_entry_author_id_member"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_retro_entry_project_id_project"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retro_entry")),
    )
    with op.batch_alter_table("retro_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_retro_entry_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("retro_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retro_entry_project_id"))
    op.drop_table("retro_entry")
    op.drop_table("goal_result")
