"""reply routes: index the outbox rows whose reply route expires (DingTalk sessionWebhooks)

Revision ID: 0006_reply_routes
Revises: 0005_change_message_ref
Create Date: 2026-12-01 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_reply_routes"
down_revision: str | None = "0005_change_message_ref"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_outbound_message_reply_route",
        "outbound_message",
        ["platform", "chat_id", "reply_to_expires_at"],
        unique=False,
        sqlite_where=sa.text("reply_to_expires_at IS NOT NULL"),
        postgresql_where=sa.text("reply_to_expires_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbound_message_reply_route", table_name="outbound_message")
