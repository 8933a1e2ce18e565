"""An import the PM has seen the preview of, waiting for `/导入 确认` (or `/导入 取消`).

One per project: a newer preview replaces it. It holds the plan as read from the file (JSON: the rows
to import, with their problems already left out), who asked, and until when it may be confirmed; the
comparison with the project's tasks is made again when it is confirmed, so what changed in between
counts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base


class PendingImport(Base):
    __tablename__ = "pending_import"

    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)


def keep_pending_import(
    session: Session, /, *, project_id: int, member_id: int, filename: str, at: datetime, expires_at: datetime,
    plan: dict[str, Any],
) -> None:
    """Keep the previewed plan until it is confirmed or cancelled (replacing an earlier one)."""
    drop_pending_import(session, project_id=project_id)
    session.add(PendingImport(project_id=project_id, member_id=member_id, filename=filename[:200], created_at=at,
                              expires_at=expires_at, plan=plan))
    session.flush()


def pending_import(session: Session, /, *, project_id: int) -> PendingImport | None:
    return session.get(PendingImport, project_id)


def drop_pending_import(session: Session, /, *, project_id: int) -> None:
    session.execute(delete(PendingImport).where(PendingImport.project_id == project_id))
