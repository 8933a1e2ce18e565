"""Closed projects: a group's history, and what a close-out summary is made of (read only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.enums import ActionStatus, ProjectStatus, RiskLevel, RiskStatus, TaskStatus
from models.meeting import ActionItem
from models.project import Project
from models.risk import Risk
from models.task import Task


def closed_projects(session: Session, /, *, platform: str, chat_id: str) -> Sequence[Project]:
    """The group's closed projects, the most recently closed first."""
    return session.scalars(
        select(Project)
        .where(Project.platform == platform, Project.chat_id == chat_id, Project.status == ProjectStatus.CLOSED)
        .order_by(Project.closed_at.desc(), Project.id.desc())
    ).all()


def latest_closed_project(session: Session, /, *, platform: str, chat_id: str) -> Project | None:
    return session.scalar(
        select(Project)
        .where(Project.platform == platform, Project.chat_id == chat_id, Project.status == ProjectStatus.CLOSED)
        .order_by(Project.closed_at.desc(), Project.id.desc())
        .limit(1)
    )


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    number: int
    title: str
    status: TaskStatus
    due_date: date | None
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class OpenRisk:
    number: int
    description: str
    level: RiskLevel


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    """Everything a close-out summary says: every task's outcome, the risks still open, open actions."""

    tasks: tuple[TaskOutcome, ...]
    open_risks: tuple[OpenRisk, ...]
    open_actions: int


def project_record(session: Session, /, *, project_id: int) -> ProjectRecord:
    tasks = session.execute(
        select(Task.number, Task.title, Task.status, Task.due_date, Task.completed_at)
        .where(Task.project_id == project_id)
        .order_by(Task.number)
    )
    risks = session.execute(
        select(Risk.number, Risk.description, Risk.level)
        .where(Risk.project_id == project_id, Risk.status == RiskStatus.OPEN)
        .order_by(Risk.number)
    )
    open_actions = session.scalar(
        select(func.count()).select_from(ActionItem).where(
            ActionItem.project_id == project_id, ActionItem.status == ActionStatus.OPEN
        )
    )
    return ProjectRecord(
        tuple(TaskOutcome(*row) for row in tasks), tuple(OpenRisk(*row) for row in risks), int(open_actions or 0)
    )
