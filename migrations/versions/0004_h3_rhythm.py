"""rhythm: posted agendas, agenda topics, deadline moves awaiting approval, the project's approval rule

Revision ID: 0004_h3_rhythm
Revises: 0003_outbox_lanes
Create Date: 2026-12-01 22:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0004_h3_rhythm"
down_revision: str | None = "0003_outbox_lanes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_approval", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "agenda_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("meeting_day", sa.Date(), nullable=False),
        sa.Column("built_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("covers_from", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_agenda_run_project_id_project"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agenda_run")),
        sa.UniqueConstraint("project_id", "meeting_day", name=op.f("uq_agenda_run_project_id_meeting_day")),
    )
    op.create_table(
        "agenda_topic",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column("added_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("meeting_day", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["added_by_id"], ["member.id"], name=op.f("fk_agenda_topic_added_by_id_member"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_agenda_topic_project_id_project"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agenda_topic")),
    )
    op.create_index(op.f("ix_agenda_topic_project_id"), "agenda_topic", ["project_id"], unique=False)
    op.create_table(
        "due_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("old_due", sa.Date(), nullable=True),
        sa.Column("new_due", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("requested_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["member.id"], name=op.f("fk_due_request_decided_by_id_member"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_due_request_project_id_project"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["member.id"], name=op.f("fk_due_request_requested_by_id_member"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], name=op.f("fk_due_request_task_id_task"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_due_request")),
    )
    op.create_index(op.f("ix_due_request_project_id"), "due_request", ["project_id"], unique=False)
    op.create_index(op.f("ix_due_request_task_id"), "due_request", ["task_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_due_request_task_id"), table_name="due_request")
    op.drop_index(op.f("ix_due_request_project_id"), table_name="due_request")
    op.drop_table("due_request")
    op.drop_index(op.f("ix_agenda_topic_project_id"), table_name="agenda_topic")
    op.drop_table("agenda_topic")
    op.drop_table("agenda_run")
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_column("due_approval")
