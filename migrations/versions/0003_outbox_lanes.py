"""outbox lanes: the holder of each outbox row, a lease per chat lane, a heartbeat per sender

Revision ID: 0003_outbox_lanes
Revises: 0002_webhook_signatures
Create Date: 2026-12-01 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0003_outbox_lanes"
down_revision: str | None = "0002_webhook_signatures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbound_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("leased_by", sa.String(length=64), nullable=True))
    op.create_table(
        "outbox_lane",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.String(length=128), nullable=False),
        sa.Column("to_user_id", sa.String(length=128), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("expires_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "chat_id", "to_user_id", name=op.f("pk_outbox_lane")),
    )
    op.create_table(
        "outbox_heartbeat",
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("started_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sender", name=op.f("pk_outbox_heartbeat")),
    )


def downgrade() -> None:
    op.drop_table("outbox_heartbeat")
    op.drop_table("outbox_lane")
    with op.batch_alter_table("outbound_message", schema=None) as batch_op:
        batch_op.drop_column("leased_by")
