"""task plan fields: 验收标准, the plan's WBS code, the milestone flag

Revision ID: 0009_task_plan_fields
Revises: 0008_dashboard
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_task_plan_fields"
down_revision: str | None = "0008_dashboard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acceptance_criteria", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("wbs_code", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("is_milestone", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_column("is_milestone")
        batch_op.drop_column("wbs_code")
        batch_op.drop_column("acceptance_criteria")
