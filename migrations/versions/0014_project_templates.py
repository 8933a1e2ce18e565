"""project templates: a project's WBS and risk checklist saved under a name, and layouts awaiting 确认

Revision ID: 0014_project_templates
Revises: 0013_retrospective
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0014_project_templates"
down_revision: str | None = "0013_retrospective"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "project_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("source_project_id", sa.Integer(), nullable=True),
        sa.Column("source_name", sa.String(length=100), nullable=False),
        sa.Column("saved_by", sa.String(length=100), nullable=False),
        sa.Column("saved_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_project_id"], ["project.id"], name=op.f("fk_project_template_source_project_id_project"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_template")),
        sa.UniqueConstraint("platform", "name", name=op.f("uq_project_template_platform_name")),
    )
    op.create_table(
        "template_layout",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("asked_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["template_id"], ["project_template.id"], name=op.f("fk_template_layout_template_id_project_template"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("platform", "chat_id", "user_id", name=op.f("pk_template_layout")),
    )


def downgrade() -> None:
    op.drop_table("template_layout")
    op.drop_table("project_template")
