"""history rows name their message and remember what they overwrote (undo); members can be removed

Revision ID: 0005_change_message_ref
Revises: 0004_rhythm
Create Date: 2026-12-01 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0005_change_message_ref"
down_revision: str | None = "0004_rhythm"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("undo_of", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("before", sa.JSON(), nullable=True))
        batch_op.create_index("ix_change_project_event", ["project_id", "event_key"], unique=False)
        batch_op.create_index("ix_change_project_actor", ["project_id", "actor_id"], unique=False)
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(sa.Column("removed_at", models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_column("removed_at")
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.drop_index("ix_change_project_actor")
        batch_op.drop_index("ix_change_project_event")
        batch_op.drop_column("before")
        batch_op.drop_column("undo_of")
        batch_op.drop_column("event_key")
