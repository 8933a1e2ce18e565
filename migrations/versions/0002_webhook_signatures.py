"""webhook signatures: a DingTalk (timestamp, sign) pair is good for one event only

Revision ID: 0002_webhook_signatures
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0002_webhook_signatures"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_signature",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("sign", sa.String(length=64), nullable=False),
        sa.Column("event_key", sa.String(length=200), nullable=False),
        sa.Column("signed_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "sign", name=op.f("pk_webhook_signature")),
    )
    with op.batch_alter_table("webhook_signature", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_signature_signed_at", ["signed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_signature", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_signature_signed_at")
    op.drop_table("webhook_signature")
