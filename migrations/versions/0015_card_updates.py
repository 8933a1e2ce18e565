"""card updates: an outbox row may update a message already sent (a card re-rendered in place), and
sent messages are found by their platform message id (a card's button callbacks name it) and by
their origin (the event or the scheduled post that wrote them)

Revision ID: 0015_card_updates
Revises: 0014_project_templates
Create Date: 2026-12-02 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_card_updates"
down_revision: str | None = "0014_project_templates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbound_message") as batch:
        batch.add_column(sa.Column("updates_message_id", sa.String(length=128), nullable=True))
    op.create_index(
        "ix_outbound_message_platform_message",
        "outbound_message",
        ["platform", "platform_message_id"],
        unique=False,
        sqlite_where=sa.text("platform_message_id IS NOT NULL"),
        postgresql_where=sa.text("platform_message_id IS NOT NULL"),
    )


    op.create_index("ix_outbound_message_origin", "outbound_message", ["origin"], unique=False)
    op.create_index(
        "ix_outbound_message_updates",
        "outbound_message",
        ["platform", "updates_message_id"],
        unique=False,
        sqlite_where=sa.text("updates_message_id IS NOT NULL"),
        postgresql_where=sa.text("updates_message_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbound_message_updates", table_name="outbound_message")
    op.drop_index("ix_outbound_message_origin", table_name="outbound_message")
    op.drop_index("ix_outbound_message_platform_message", table_name="outbound_message")
    with op.batch_alter_table("outbound_message") as batch:
        batch.drop_column("updates_message_id")
