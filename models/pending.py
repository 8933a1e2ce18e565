"""An update the bot asked about (“是要把 #1 标记为已完成吗？”), waiting for the same person's “是”.

One per member (a member belongs to one project, so to one group). Each message is its own
transaction and the process may restart in between, so the proposal lives here: the next message from
that person takes it (`take_pending_update`, one `DELETE … RETURNING`), whether it confirms it or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, bindparam, delete, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base


class PendingUpdate(Base):
    __tablename__ = "pending_update"

    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    proposed_at: Mapped[datetime]
    updates: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{"number", "status", "progress", "note"}]


@dataclass(frozen=True, slots=True)
class Proposal:
    proposed_at: datetime
    updates: list[dict[str, Any]]


# Core statements on the table: every message runs `_TAKE`, and the ORM's DML path (session
# synchronisation, bulk bookkeeping) cost several times the statement itself.
_TABLE = PendingUpdate.__table__
_TAKE = (
    delete(_TABLE)
    .where(_TABLE.c.member_id == bindparam("member_id"))
    .returning(_TABLE.c.proposed_at, _TABLE.c.updates)
)
_PROPOSE = insert(_TABLE)


def take_pending_update(session: Session, /, *, member_id: int) -> Proposal | None:
    """The member's waiting proposal, removed (one statement): confirmed now or dropped."""
    row = session.execute(_TAKE, {"member_id": member_id}).one_or_none()
    return None if row is None else Proposal(row.proposed_at, list(row.updates))


def propose_update(
    session: Session, /, *, project_id: int, member_id: int, at: datetime, updates: list[dict[str, Any]]
) -> None:
    """Keep what was asked until the member's next message (replacing an earlier proposal)."""
    session.execute(delete(_TABLE).where(_TABLE.c.member_id == member_id))
    session.execute(_PROPOSE, {"member_id": member_id, "project_id": project_id, "proposed_at": at, "updates": updates})
