"""merged prompt: the per-project switch for one private prompt per person across their projects

Revision ID: 0023_merged_prompt
Revises: 0022_dependency_index
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_merged_prompt"
down_revision: str | None = "0022_dependency_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_prompt", sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_column("merged_prompt")
