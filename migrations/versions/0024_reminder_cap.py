"""reminder cap: who a reminder was for and on which local day (the daily cap per person), the
per-project switch

Revision ID: 0024_reminder_cap
Revises: 0023_merged_prompt
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_reminder_cap"
down_revision: str | None = "0023_merged_prompt"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminder_cap", sa.Boolean(), server_default=sa.true(), nullable=False))
    with op.batch_alter_table("job_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("day", sa.Date(), nullable=True))
        batch_op.create_index("ix_job_run_day_user", ["day", "user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job_run", schema=None) as batch_op:
        batch_op.drop_index("ix_job_run_day_user")
        batch_op.drop_column("day")
        batch_op.drop_column("user_id")
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_column("reminder_cap")
