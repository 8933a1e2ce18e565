"""A person across projects: (platform, user_id) is one person in every project group they are in.

The merged private prompt (`scheduler.person_prompt`) finds the people who own open tasks in several
projects; a private message (`handlers.private_chat`) is answered in the sender's projects on that
platform. Each is one statement, whatever the number of people or projects.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from models.enums import OPEN_TASK_STATUSES, ProjectStatus
from models.pending import PendingUpdate
from models.project import Member, Project
from models.task import Task

# Person = (platform, user_id). Built once: every private message runs it.
_MEMBERSHIPS = (
    select(Project, Member)
    .join(Member, Member.project_id == Project.id)
    .where(
        Project.platform == bindparam("platform"),
        Project.status == ProjectStatus.ACTIVE,
        Member.user_id == bindparam("user_id"),
        Member.removed_at.is_(None),
    )
    .order_by(Project.id)
)


def memberships(session: Session, /, *, platform: str, user_id: str) -> list[tuple[Project, Member]]:
    """The active projects on `platform` where this person is an active member, oldest project first."""
    return [(row[0], row[1]) for row in session.execute(_MEMBERSHIPS, {"platform": platform, "user_id": user_id})]


def owners_in_several(
    session: Session, /, *, platforms: Collection[str], project_ids: Collection[int] | None = None
) -> list[tuple[str, str, int]]:
    """(platform, user_id, project_id) for the people who own open tasks in two or more active, unpaused
    projects with the merged prompt on, on these platforms — one row per such person and project."""
    if not platforms:
        return []
    pairs = (
        select(Project.platform, Member.user_id, Project.id.label("project_id"))
        .join(Member, Member.project_id == Project.id)
        .join(Task, Task.owner_id == Member.id)
        .where(
            Project.platform.in_(sorted(platforms)),
            Project.status == ProjectStatus.ACTIVE,
            Project.paused.is_(False),
            Project.merged_prompt.is_(True),
            Member.removed_at.is_(None),
            Task.status.in_(OPEN_TASK_STATUSES),
        )
        .group_by(Project.platform, Member.user_id, Project.id)
    )
    if project_ids is not None:
        pairs = pairs.where(Project.id.in_(sorted(project_ids)))
    inner = pairs.subquery()
    counted = select(
        inner.c.platform, inner.c.user_id, inner.c.project_id,
        func.count().over(partition_by=(inner.c.platform, inner.c.user_id)).label("projects"),
    ).subquery()
    rows = session.execute(
        select(counted.c.platform, counted.c.user_id, counted.c.project_id)
        .where(counted.c.projects >= 2)
        .order_by(counted.c.platform, counted.c.user_id, counted.c.project_id)
    )
    return [(platform, user_id, project_id) for platform, user_id, project_id in rows]


def projects_with_tasks(session: Session, /, *, project_ids: Iterable[int], numbers: Iterable[int]) -> dict[int, set[int]]:
    """Task number → the ones of these projects that have a task with that number (open or not)."""
    ids, wanted = sorted(set(project_ids)), sorted(set(numbers))
    found: dict[int, set[int]] = {n: set() for n in wanted}
    if not ids or not wanted:
        return found
    rows = session.execute(select(Task.number, Task.project_id).where(Task.project_id.in_(ids), Task.number.in_(wanted)))
    for number, project_id in rows:
        found[number].add(project_id)
    return found


def waiting_for_answer(session: Session, /, *, member_ids: Iterable[int]) -> set[int]:
    """The ones of these memberships the bot asked something and is waiting for the answer of."""
    ids = sorted(set(member_ids))
    if not ids:
        return set()
    return set(session.scalars(select(PendingUpdate.member_id).where(PendingUpdate.member_id.in_(ids))))
