"""holiday deadlines: the per-project switch for flagging tasks due around a long holiday in the agenda

Revision ID: 0020_holiday_deadlines
Revises: 0019_leave
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_holiday_deadlines"
down_revision: str | None = "0019_leave"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holiday_deadlines", sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_column("holiday_deadlines")
