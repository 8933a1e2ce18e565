"""Tasks: the project's work breakdown, with owners, dates, status, dependencies and subtasks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    delete,
    insert,
    literal,
    select,
    union_all,
)
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column, relationship

from models.base import Base
from models.enums import TaskStatus, enum_column
from models.project import Department, Member

task_dependency = Table(
    "task_dependency",
    Base.metadata,
    Column("task_id", ForeignKey("task.id", ondelete="CASCADE"), primary_key=True),
    Column("predecessor_id", ForeignKey("task.id", ondelete="CASCADE"), primary_key=True),
    # "What waits for this task" (completions, slips downstream, forecasts) looks up by predecessor;
    # the primary key leads with task_id, so that lookup would scan the table.
    Index("ix_task_dependency_predecessor_id", "predecessor_id"),
)

# The cooperating departments of a task after its first (a 配合部门 cell naming several): the first is
# `task.department_id`, as chat sets it; these follow it in `position` order.
task_department = Table(
    "task_department",
    Base.metadata,
    Column("task_id", ForeignKey("task.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("department.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, nullable=False),
)


class Task(Base):
    __tablename__ = "task"
    __table_args__ = (
        UniqueConstraint("project_id", "number"),
        Index("ix_task_project_status", "project_id", "status"),
        Index("ix_task_owner", "owner_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id", ondelete="SET NULL"))
    start_date: Mapped[date | None]
    due_date: Mapped[date | None]
    status: Mapped[TaskStatus] = mapped_column(enum_column(TaskStatus), default=TaskStatus.TODO)
    progress: Mapped[int] = mapped_column(default=0)
    deliverable: Mapped[str | None] = mapped_column(String(200))
    acceptance_criteria: Mapped[str | None] = mapped_column(Text)  # 验收标准 of the deliverable
    wbs_code: Mapped[str | None] = mapped_column(String(40))  # the plan's own numbering ("2.3"), kept from an import
    is_milestone: Mapped[bool] = mapped_column(default=False)
    blocked_reason: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("task.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    status_changed_at: Mapped[datetime]  # when the current status began (blocker age, escalation)
    completed_at: Mapped[datetime | None]

    owner: Mapped[Member | None] = relationship(foreign_keys=[owner_id])
    created_by: Mapped[Member | None] = relationship(foreign_keys=[created_by_id])
    department: Mapped[Department | None] = relationship()
    other_departments: Mapped[list[Department]] = relationship(
        secondary=task_department, order_by=lambda: task_department.c.position, viewonly=True
    )
    parent: Mapped[Task | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Task]] = relationship(back_populates="parent", order_by="Task.number")
    predecessors: Mapped[list[Task]] = relationship(
        secondary=task_dependency,
        primaryjoin=lambda: Task.id == task_dependency.c.task_id,
        secondaryjoin=lambda: Task.id == task_dependency.c.predecessor_id,
        order_by=lambda: Task.number,
        back_populates="successors",
    )
    successors: Mapped[list[Task]] = relationship(
        secondary=task_dependency,
        primaryjoin=lambda: Task.id == task_dependency.c.predecessor_id,
        secondaryjoin=lambda: Task.id == task_dependency.c.task_id,
        order_by=lambda: Task.number,
        back_populates="predecessors",
    )

    @property
    def ref(self) -> str:
        return f"#{self.number}"

    @property
    def departments(self) -> list[Department]:
        """Every department of the task, the primary one first."""
        return [*([self.department] if self.department else []), *self.other_departments]


def department_names(session: Session, /, *, project_id: int) -> dict[int, list[str]]:
    """task id → its departments' names, the primary first (one statement), for lists and exports."""
    rows = session.execute(
        select(Task.id, Department.name, literal(-1).label("position"))
        .join(Department, Department.id == Task.department_id)
        .where(Task.project_id == project_id)
        .union_all(
            select(task_department.c.task_id, Department.name, task_department.c.position)
            .join(Department, Department.id == task_department.c.department_id)
            .join(Task, Task.id == task_department.c.task_id)
            .where(Task.project_id == project_id)
        )
        .order_by("position")
    ).all()
    found: dict[int, list[str]] = {}
    for task_id, name, _position in rows:
        found.setdefault(task_id, []).append(name)
    return found


def set_other_departments(session: Session, /, *, task_id: int, department_ids: list[int]) -> None:
    """Replace the task's departments after the first (plain statements; the relationship is view-only)."""
    session.execute(delete(task_department).where(task_department.c.task_id == task_id))
    if department_ids:
        session.execute(insert(task_department), [
            {"task_id": task_id, "department_id": d, "position": i} for i, d in enumerate(department_ids)
        ])


@dataclass(frozen=True, slots=True)
class DependencyGraph:
    """A project's task dependencies: task id -> its predecessors' ids, and task id -> number."""

    predecessors: dict[int, list[int]]
    numbers: dict[int, int]


def dependency_edges(session: Session, /, *, project_id: int) -> DependencyGraph:
    """Every dependency edge of a project in one statement (for cycle checks)."""
    successor = aliased(Task)
    predecessor = aliased(Task)
    rows = session.execute(
        select(successor.id, successor.number, predecessor.id, predecessor.number)
        .select_from(task_dependency)
        .join(successor, successor.id == task_dependency.c.task_id)
        .join(predecessor, predecessor.id == task_dependency.c.predecessor_id)
        .where(successor.project_id == project_id)
    ).all()
    graph: dict[int, list[int]] = {}
    numbers: dict[int, int] = {}
    for task_id, task_no, pred_id, pred_no in rows:
        graph.setdefault(task_id, []).append(pred_id)
        numbers[task_id], numbers[pred_id] = task_no, pred_no
    return DependencyGraph(graph, numbers)


def parent_links(session: Session, /, *, project_id: int) -> dict[int, tuple[int, int | None]]:
    """task id -> (number, parent id) for every task of a project, in one statement (for cycle checks)."""
    rows = session.execute(select(Task.id, Task.number, Task.parent_id).where(Task.project_id == project_id))
    return {task_id: (number, parent_id) for task_id, number, parent_id in rows}


_NEIGHBOURS = union_all(
    select(literal("child").label("kind"), Task.number, Task.status).where(Task.parent_id == bindparam("task_id")),
    select(literal("pred"), Task.number, Task.status)
    .join(task_dependency, task_dependency.c.predecessor_id == Task.id)
    .where(task_dependency.c.task_id == bindparam("task_id")),
    select(literal("succ"), Task.number, Task.status)
    .join(task_dependency, task_dependency.c.task_id == Task.id)
    .where(task_dependency.c.predecessor_id == bindparam("task_id")),
).order_by("kind", "number")


def task_neighbours(session: Session, /, *, task_id: int) -> dict[str, list[tuple[int, TaskStatus]]]:
    """A task's subtasks, predecessors and successors as (number, status), in one statement.

    Keys: "child", "pred", "succ"; each list ordered by number.
    """
    found: dict[str, list[tuple[int, TaskStatus]]] = {"child": [], "pred": [], "succ": []}
    for kind, number, status in session.execute(_NEIGHBOURS, {"task_id": task_id}):
        found[kind].append((number, TaskStatus(status)))
    return found
