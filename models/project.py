"""Projects (one active project per group), departments, members and the project calendar."""

from __future__ import annotations

from datetime import date, datetime, time
from functools import cache

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, bindparam, false, select, text, true, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.dml import ReturningUpdate

from models.base import Base
from models.enums import CalendarDayKind, ProjectStatus, Role, enum_column

DEFAULT_TIMEZONE = "Asia/Shanghai"
# Platform ids are far shorter (open_id ~35, staffId ~20); console and hand-typed ids are checked against these.
CHAT_ID_MAX = 128
USER_ID_MAX = 128


class Project(Base):
    __tablename__ = "project"
    __table_args__ = (
        # A group runs one active project at a time; closed ones stay for history.
        Index(
            "uq_project_active_chat",
            "platform",
            "chat_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(CHAT_ID_MAX))
    name: Mapped[str] = mapped_column(String(100))
    goal: Mapped[str | None] = mapped_column(Text)
    deadline: Mapped[date | None]
    status: Mapped[ProjectStatus] = mapped_column(enum_column(ProjectStatus), default=ProjectStatus.ACTIVE)
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    summary: Mapped[str | None] = mapped_column(Text)

    # Rhythm settings (DESIGN §5); all changeable in chat.
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    daily_prompt_time: Mapped[time] = mapped_column(default=time(17, 0))
    nudge_time: Mapped[time | None]
    meeting_weekday: Mapped[int] = mapped_column(default=0)  # Monday = 0
    meeting_time: Mapped[time] = mapped_column(default=time(9, 0))
    agenda_time: Mapped[time | None]  # None: the daily prompt time of the workday before
    digest_time: Mapped[time] = mapped_column(default=time(18, 0))
    work_start: Mapped[time] = mapped_column(default=time(9, 0))
    work_end: Mapped[time] = mapped_column(default=time(18, 0))
    paused: Mapped[bool] = mapped_column(default=False)
    # An owner's move of their own deadline later waits for the PM's approval (/项目 设置 延期审批 开).
    due_approval: Mapped[bool] = mapped_column(default=False)
    # The owners of dependent tasks are told when a task slips (blocked, moved later, overdue) and when it is clear.
    slip_alerts: Mapped[bool] = mapped_column(default=True, server_default=true())

    # The charter (项目章程, `/项目 设置 编号|发起部门|发起人|预算|目标|成果|干系人`), posted with `/项目 章程`.
    code: Mapped[str | None] = mapped_column(String(40))
    sponsor_department: Mapped[str | None] = mapped_column(String(50))
    budget: Mapped[str | None] = mapped_column(String(40))
    goals: Mapped[list[str] | None] = mapped_column(JSON)  # 1–3 measurable goals
    expected_results: Mapped[str | None] = mapped_column(Text)
    stakeholders: Mapped[str | None] = mapped_column(Text)
    # Moves on at every change of the charter: an acknowledgement of an older version no longer counts.
    charter_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # Who approves a change request (变更申请): "pm", or "sponsor" (the PM and then also the sponsor).
    change_approval: Mapped[str] = mapped_column(String(16), default="pm", server_default="pm")
    risk_proposals: Mapped[bool] = mapped_column(default=True, server_default=true())  # worried updates → PM
    leave_handover: Mapped[bool] = mapped_column(default=True, server_default=true())  # stand-ins for a leave
    holiday_deadlines: Mapped[bool] = mapped_column(default=True, server_default=true())  # agenda: due around 国庆…
    # Someone in several projects gets one private prompt at their earliest prompt time (scheduler.person_prompt).
    merged_prompt: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Its reminders to a person are held to the daily cap across all their projects (off: always sent, still counted).
    reminder_cap: Mapped[bool] = mapped_column(default=True, server_default=true())

    # Per-project counters: ids shown to users (#N, RN, AN, DN) are never reused.
    next_task_no: Mapped[int] = mapped_column(default=1)
    next_risk_no: Mapped[int] = mapped_column(default=1)
    next_action_no: Mapped[int] = mapped_column(default=1)
    next_decision_no: Mapped[int] = mapped_column(default=1)
    next_change_no: Mapped[int] = mapped_column(default=1, server_default="1")  # change requests CN
    # Dashboard links carry the generation they were signed for; `/看板 重置` moves it on (revoking them all).
    dashboard_generation: Mapped[int] = mapped_column(default=0, server_default="0")

    members: Mapped[list[Member]] = relationship(back_populates="project", order_by="Member.id")
    departments: Mapped[list[Department]] = relationship(back_populates="project", order_by="Department.id")


class Department(Base):
    __tablename__ = "department"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(50))

    project: Mapped[Project] = relationship(back_populates="departments")


class Member(Base):
    __tablename__ = "member"
    __table_args__ = (UniqueConstraint("project_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(USER_ID_MAX))  # platform user id (open_id / staffId / console name)
    name: Mapped[str] = mapped_column(String(100))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id", ondelete="SET NULL"))
    role: Mapped[Role] = mapped_column(enum_column(Role), default=Role.MEMBER)
    joined_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]
    # The project's sponsor (发起人/分管领导, `/项目 设置 发起人 @…`): receives escalations, may approve changes.
    is_sponsor: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Set by `/成员 移除`: the row stays so old history still names the person; lists leave them out.
    removed_at: Mapped[datetime | None]

    project: Mapped[Project] = relationship(back_populates="members")
    department: Mapped[Department | None] = relationship()

    @property
    def is_manager(self) -> bool:
        return self.role in (Role.PM, Role.CO_PM) and self.removed_at is None

    @property
    def is_active(self) -> bool:
        return self.removed_at is None


class CalendarDay(Base):
    """A project's own day off or extra workday, overriding the national calendar."""

    __tablename__ = "calendar_day"
    __table_args__ = (UniqueConstraint("project_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    day: Mapped[date]
    kind: Mapped[CalendarDayKind] = mapped_column(enum_column(CalendarDayKind))
    note: Mapped[str | None] = mapped_column(String(200))


# Statements run for every message are built once (bind parameters), not per call: on a small
# machine building a select costs as much as running it.
_ACTIVE_PROJECT = select(Project).where(
    Project.platform == bindparam("platform"),
    Project.chat_id == bindparam("chat_id"),
    Project.status == ProjectStatus.ACTIVE,
)
_DEPARTMENT = select(Department).where(Department.project_id == bindparam("project_id"), Department.name == bindparam("name"))
_ACTIVE_PROJECT_AND_MEMBER = _ACTIVE_PROJECT.add_columns(Member).outerjoin(
    Member, (Member.project_id == Project.id) & (Member.user_id == bindparam("user_id"))
)
_MEMBER = select(Member).where(Member.project_id == bindparam("project_id"), Member.user_id == bindparam("user_id"))


def get_active_project_and_member(
    session: Session, /, *, platform: str, chat_id: str, user_id: str
) -> tuple[Project | None, Member | None]:
    """The group's active project and, if known, the sender's membership: one statement per message."""
    row = session.execute(_ACTIVE_PROJECT_AND_MEMBER, {"platform": platform, "chat_id": chat_id, "user_id": user_id}).first()
    return (row[0], row[1]) if row else (None, None)


def get_active_project(session: Session, /, *, platform: str, chat_id: str) -> Project | None:
    return session.scalar(_ACTIVE_PROJECT, {"platform": platform, "chat_id": chat_id})


def allocate_number(session: Session, /, project: Project, counter: str, count: int = 1) -> int:
    """Take the next per-project number atomically (row-level increment, safe under concurrency); with
    `count`, that many consecutive numbers, the first returned (an import numbers its tasks at once)."""
    number = session.execute(_increment(counter), {"project_id": project.id, "count": count}).scalar_one()
    set_committed_value(project, counter, number)
    return number - count


@cache
def _increment(counter: str) -> ReturningUpdate[tuple[int]]:
    column = Project.__table__.c[counter]
    return (
        update(Project.__table__)
        .where(Project.__table__.c.id == bindparam("project_id"))
        .values({column: column + bindparam("count")})
        .returning(column)
    )


def find_member(session: Session, /, *, project_id: int, user_id: str) -> Member | None:
    return session.scalar(_MEMBER, {"project_id": project_id, "user_id": user_id})


def find_members_by_name(session: Session, /, *, project_id: int, name: str) -> list[Member]:
    """The project's active members with that display name (a removed member is not named any more)."""
    return list(session.scalars(
        select(Member).where(Member.project_id == project_id, Member.name == name, Member.removed_at.is_(None))
    ))


def ensure_member(
    session: Session, /, *, project: Project, user_id: str, name: str, now: datetime, role: Role = Role.MEMBER
) -> Member:
    """The member for this platform user, created on first sight; the display name follows the platform."""
    member = find_member(session, project_id=project.id, user_id=user_id)
    if member is None:
        member = Member(project=project, user_id=user_id, name=(name or user_id)[:100], role=role, joined_at=now)
        session.add(member)
        session.flush()
    elif name and member.name != name[:100]:
        member.name = name[:100]  # the column's width; platforms' display names are far shorter
    return member


def find_department(session: Session, /, *, project_id: int, name: str) -> Department | None:
    return session.scalar(_DEPARTMENT, {"project_id": project_id, "name": name})


def get_or_create_department(session: Session, /, *, project: Project, name: str) -> Department:
    department = find_department(session, project_id=project.id, name=name)
    if department is None:
        department = Department(project=project, name=name)
        session.add(department)
        session.flush()
    return department
