"""What every report computation shares: the snapshot to read, the calendar, member and time lookups."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from models import Project
from models.calendar import WorkCalendar, load_calendar
from reports.records import MemberRow, TaskDetail, TaskRow
from reports.snapshot import Snapshot


def snapshot_for(session: Session, project: Project, at: datetime, data: Snapshot | None) -> Snapshot:
    if data is not None and data.covers(project.id):
        return data
    return Snapshot(session, [project.id], at=at)


def calendar_for(session: Session, project: Project, calendar: WorkCalendar | None) -> WorkCalendar:
    return calendar if calendar is not None else load_calendar(session, project_id=project.id)


def member_of(members: dict[int, MemberRow], member_id: int | None) -> MemberRow | None:
    return members.get(member_id) if member_id is not None else None


def changed_at(details: dict[int, TaskDetail], task: TaskRow, at: datetime) -> datetime:
    detail = details.get(task.id)
    return detail.status_changed_at if detail else at


def completed_at(details: dict[int, TaskDetail], task: TaskRow) -> datetime:
    detail = details.get(task.id)
    assert detail is not None and detail.completed_at is not None
    return detail.completed_at


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S")
