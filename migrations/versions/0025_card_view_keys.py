"""card view keys: a sent card that shows one task, risk or action item (`/任务 #12`, `/风险 R3`,
`/行动 A4`) names it, so a change to that item finds the day's cards showing it and shows them again

Revision ID: 0025_card_view_keys
Revises: 0024_reminder_cap
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_card_view_keys"
down_revision: str | None = "0024_reminder_cap"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbound_message") as batch:
        batch.add_column(sa.Column("view_key", sa.String(length=40), nullable=True))
    op.create_index(
        "ix_outbound_message_view",
        "outbound_message",
        ["platform", "view_key", "created_at"],
        unique=False,
        sqlite_where=sa.text("view_key IS NOT NULL"),
        postgresql_where=sa.text("view_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbound_message_view", table_name="outbound_message")
    with op.batch_alter_table("outbound_message") as batch:
        batch.drop_column("view_key")
