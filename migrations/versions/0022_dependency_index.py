"""an index on task_dependency.predecessor_id: "what waits for this task" without a table scan

Revision ID: 0022_dependency_index
Revises: 0021_handover_return
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022_dependency_index"
down_revision: str | None = "0021_handover_return"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_task_dependency_predecessor_id", "task_dependency", ["predecessor_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_task_dependency_predecessor_id", table_name="task_dependency")
