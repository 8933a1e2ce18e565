"""Project templates (模板沉淀): a project's WBS and risk checklist kept under a name for the next project,
and a layout from a template waiting for the requester's 确认.

A template belongs to a platform's workspace (the company), not to one group: the next project is usually
run in another group. Its `body` is plain JSON (`reports.templates` makes and reads it): tasks with their
titles, hierarchy, departments, offsets and durations in working days, dependencies, acceptance criteria
and milestone flags; risks with their levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base
from models.project import CHAT_ID_MAX, USER_ID_MAX


class ProjectTemplate(Base):
    __tablename__ = "project_template"
    __table_args__ = (UniqueConstraint("platform", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    source_project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id", ondelete="SET NULL"))
    source_name: Mapped[str] = mapped_column(String(100))  # the project it was saved from, as named then
    saved_by: Mapped[str] = mapped_column(String(100))
    saved_at: Mapped[datetime]
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


class TemplateLayout(Base):
    """`/项目 创建 <名称> 模板:<名称> 开始:<日期>` previewed, waiting for the same person's 确认 in that group."""

    __tablename__ = "template_layout"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(CHAT_ID_MAX), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(USER_ID_MAX), primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("project_template.id", ondelete="CASCADE"))
    asked_at: Mapped[datetime]
    request: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"name", "start", "goal", "due"}


def find_template(session: Session, /, *, platform: str, name: str) -> ProjectTemplate | None:
    return session.scalar(
        select(ProjectTemplate).where(ProjectTemplate.platform == platform, ProjectTemplate.name == name)
    )


def list_templates(session: Session, /, *, platform: str) -> Sequence[ProjectTemplate]:
    return session.scalars(
        select(ProjectTemplate).where(ProjectTemplate.platform == platform).order_by(ProjectTemplate.name)
    ).all()


def take_layout(session: Session, /, *, platform: str, chat_id: str, user_id: str) -> TemplateLayout | None:
    """The person's waiting layout in that group, removed (confirmed now or dropped)."""
    found = session.get(TemplateLayout, (platform, chat_id, user_id))
    if found is not None:
        session.delete(found)
        session.flush()
    return found


def ask_layout(
    session: Session, /, *, platform: str, chat_id: str, user_id: str, template_id: int, at: datetime,
    request: dict[str, Any],
) -> None:
    session.execute(
        delete(TemplateLayout).where(
            TemplateLayout.platform == platform, TemplateLayout.chat_id == chat_id, TemplateLayout.user_id == user_id
        )
    )
    session.add(
        TemplateLayout(
            platform=platform, chat_id=chat_id, user_id=user_id, template_id=template_id, asked_at=at, request=request
        )
    )
    session.flush()
