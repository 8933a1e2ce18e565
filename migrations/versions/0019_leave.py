"""leave and handover: members' absences and the stand-ins for their items

Revision ID: 0019_leave
Revises: 0018_risk_proposals
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0019_leave"
down_revision: str | None = "0018_risk_proposals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_leave",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("handover_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"], name=op.f("fk_member_leave_project_id_project"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], name=op.f("fk_member_leave_member_id_member"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by_id"], ["member.id"], name=op.f("fk_member_leave_created_by_id_member"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_leave")),
    )
    with op.batch_alter_table("member_leave", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_member_leave_project_id"), ["project_id"], unique=False)
    op.create_table(
        "handover",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("leave_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("stand_in_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.Enum("pending", "confirmed", "dropped", name="handoverstatus", native_enum=False,
                                    length=16, create_constraint=True), nullable=False),
        sa.Column("settled_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["leave_id"], ["member_leave.id"], name=op.f("fk_handover_leave_id_member_leave"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["stand_in_id"], ["member.id"], name=op.f("fk_handover_stand_in_id_member"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handover")),
        sa.UniqueConstraint("leave_id", "kind", "item_id", name=op.f("uq_handover_leave_id_kind_item_id")),
    )
    with op.batch_alter_table("handover", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_handover_leave_id"), ["leave_id"], unique=False)
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(sa.Column("leave_handover", sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_column("leave_handover")
    with op.batch_alter_table("handover", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handover_leave_id"))
    op.drop_table("handover")
    with op.batch_alter_table("member_leave", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_leave_project_id"))
    op.drop_table("member_leave")
