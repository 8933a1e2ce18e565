"""handing items back after a leave: handover status `returned`, when it was handed back, and when the
hand-back was proposed

Revision ID: 0021_handover_return
Revises: 0020_holiday_deadlines
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0021_handover_return"
down_revision: str | None = "0020_holiday_deadlines"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = ("pending", "confirmed", "dropped")
_AFTER = ("pending", "confirmed", "dropped", "returned")


def _allow(batch_op: object, values: tuple[str, ...]) -> None:
    """The status column is VARCHAR(16) with a CHECK of its values: only the CHECK changes."""
    listed = ", ".join(f"'{v}'" for v in values)
    batch_op.drop_constraint(op.f("ck_handover_handoverstatus"), type_="check")  # type: ignore[attr-defined]
    batch_op.create_check_constraint(op.f("ck_handover_handoverstatus"), f"status IN ({listed})")  # type: ignore[attr-defined]


def upgrade() -> None:
    with op.batch_alter_table("handover", schema=None) as batch_op:
        _allow(batch_op, _AFTER)
        batch_op.add_column(sa.Column("returned_at", models.base.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("member_leave", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hand_back_at", models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.execute("UPDATE handover SET status = 'confirmed' WHERE status = 'returned'")
    with op.batch_alter_table("member_leave", schema=None) as batch_op:
        batch_op.drop_column("hand_back_at")
    with op.batch_alter_table("handover", schema=None) as batch_op:
        batch_op.drop_column("returned_at")
        _allow(batch_op, _BEFORE)
