"""What each report says, as typed rows: computed once (`reports.compute`), rendered by each medium.

The Chinese text of `reports.text` is one rendering; a card, a spreadsheet or a web page renders the
same rows. Rows hold the snapshot's plain rows (`reports.snapshot`), never ORM objects; lists are in the
order the report shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import NamedTuple

from reports.forecast import MilestoneRow
from reports.records import ActionRow, DecisionRow, DueMove, MemberRow, RiskRow, TaskRow, TopicRow
from reports.rules import Health, Readiness, planned_progress


@dataclass(frozen=True, slots=True)
class FoldedReminder:
    """A reminder held back over its person's daily cap (`reports.reminder_cap`), listed once in their
    next prompt: the task's or action item's ref, its due date now, the reminder it was."""

    ref: str  # "#3", "A2"
    due: date
    job: str  # reports.rules: remind-overdue, remind-action-due …


@dataclass(frozen=True, slots=True)
class OwnerTasks:
    owner: MemberRow
    tasks: tuple[TaskRow, ...]  # most urgent first
    folded: tuple[FoldedReminder, ...] = ()  # reminders not sent over the daily cap, most urgent first


@dataclass(frozen=True, slots=True)
class TaskItem:
    task: TaskRow
    owner: MemberRow | None


@dataclass(frozen=True, slots=True)
class RiskItem:
    risk: RiskRow
    owner: MemberRow | None


@dataclass(frozen=True, slots=True)
class ActionEntry:
    action: ActionRow
    owner: MemberRow | None


@dataclass(frozen=True, slots=True)
class DecisionItem:
    decision: DecisionRow
    decided_by: MemberRow | None


# ---------------------------------------------------------------------------- daily prompt and nudge


@dataclass(frozen=True, slots=True)
class DailyPrompt:
    today: date
    owners: tuple[OwnerTasks, ...]  # owners with something overdue first, then in the order they joined
    unassigned: int  # open tasks nobody owns
    folded_runs: tuple[int, ...] = ()  # the folded reminders' job_run ids this prompt lists (shown once)


@dataclass(frozen=True, slots=True)
class PersonPrompt:
    """One person's open tasks of the day from each of their projects (the `OwnerTasks` of each project's
    `DailyPrompt`), the project of the earliest prompt first: the merged private prompt."""

    today: date
    projects: tuple[tuple[str, OwnerTasks], ...]  # (project name, the person's block in its prompt)


@dataclass(frozen=True, slots=True)
class Nudge:
    today: date
    missing: tuple[OwnerTasks, ...]  # owners of open tasks who have not updated any task today


# ---------------------------------------------------------------------------- weekly meeting


@dataclass(frozen=True, slots=True)
class Slip:
    task: TaskRow
    owner: MemberRow | None
    behind: int | None  # points behind the linear plan; None: overdue


@dataclass(frozen=True, slots=True)
class Blocked:
    task: TaskRow
    owner: MemberRow | None
    since: datetime  # when it became blocked
    age: timedelta  # working time since then (the project calendar's days off not counted)


@dataclass(frozen=True, slots=True)
class TopicItem:
    topic: TopicRow
    added_by: MemberRow | None


@dataclass(frozen=True, slots=True)
class HolidayDue:
    """A task due inside a long holiday or in the first workdays after it, and the time really left."""

    task: TaskRow
    owner: MemberRow | None
    in_holiday: bool
    days_left: int  # calendar days from today to the due date
    workdays_left: int  # working days after today up to the due date (the holiday not counted)


@dataclass(frozen=True, slots=True)
class HolidayAhead:
    """The long holiday the agenda warns about (国庆, 春节, 五一: five or more days off in a row)."""

    name: str | None
    first: date
    last: date
    back_on: date
    due: tuple[HolidayDue, ...]


@dataclass(frozen=True, slots=True)
class Agenda:
    project_name: str
    at: datetime
    today: date
    meeting: date | None  # None: no meeting in the coming weeks
    meeting_time: time
    covers_from: datetime  # local: 上周完成 covers completions from here (the previous agenda's build) to `at`
    completed: tuple[TaskItem, ...]  # 上周完成
    slipping: tuple[Slip, ...]  # overdue or behind plan, not blocked
    blocked: tuple[Blocked, ...]  # longest blocked first
    high_risks: tuple[RiskItem, ...]
    overdue_actions: tuple[ActionEntry, ...]
    undecided_risks: tuple[RiskRow, ...]  # 待决策: no response strategy chosen, above low
    long_blocked: tuple[Blocked, ...]  # 待决策: blocked over two working days
    due_next_week: tuple[TaskItem, ...]
    topics: tuple[TopicItem, ...] = ()  # added by people for the meeting (/议程 新增)
    milestones_at_risk: tuple[MilestoneRow, ...] = ()  # `reports.forecast`: shown only when there are any
    holiday: HolidayAhead | None = None  # a long holiday within two weeks, and the tasks due around it


@dataclass(frozen=True, slots=True)
class Minutes:
    project_name: str
    today: date
    meeting_day: date
    meeting_time: time
    decisions: tuple[DecisionItem, ...]
    actions: tuple[ActionEntry, ...]


# ---------------------------------------------------------------------------- PM digests


class RiskEventKind(StrEnum):
    NEW = "new"
    NOTE = "note"
    FIELD = "field"  # a field changed: field, old → new
    CLOSED = "closed"  # closed without a status change in the history


@dataclass(frozen=True, slots=True)
class RiskEvent:
    kind: RiskEventKind
    risk: RiskRow
    owner: MemberRow | None
    field: str | None = None
    old: str | None = None
    new: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Digest:
    project_name: str
    today: date
    updated: tuple[MemberRow, ...]
    missing: tuple[MemberRow, ...]
    completed_today: tuple[TaskRow, ...]
    open_count: int
    new_blockers: tuple[TaskItem, ...]
    overdue: tuple[TaskItem, ...]
    due_soon: tuple[TaskItem, ...]  # due after today, up to `soon_until`
    soon_until: date  # the next workday
    risk_events: tuple[RiskEvent, ...]
    due_moves: tuple[DueMoveItem, ...] = ()  # due dates changed since the previous workday's digest
    overdue_actions: tuple[ActionEntry, ...] = ()
    due_soon_actions: tuple[ActionEntry, ...] = ()  # due after today, up to `soon_until`
    pending_moves: tuple[DueMoveItem, ...] = ()  # owners' deadline moves waiting for the PM (延期审批)
    completed_actions: tuple[ActionRow, ...] = ()  # action items done today
    milestones_at_risk: tuple[MilestoneRow, ...] = ()  # `reports.forecast`: shown only when there are any


@dataclass(frozen=True, slots=True)
class DueMoveItem:
    move: DueMove
    actor: MemberRow | None


class TrackingRow(NamedTuple):  # a tuple: a table may have ten thousand of them, built in one go
    task: TaskRow
    owner: MemberRow | None
    health: Health
    done_on: date | None  # finished tasks
    today: date
    ready: Readiness

    @property
    def planned(self) -> int | None:
        """Percent the linear plan expects by today (worked out when asked: a table shows the first rows);
        None before the task can start (its start date, its predecessors) or without a due date."""
        if self.ready.waiting:
            return None
        return planned_progress(self.ready.start, self.task.due_date, self.today)


@dataclass(frozen=True, slots=True)
class TrackingTable:
    """The weekly 进度跟踪表: open tasks and those finished this week, late first, then at risk."""

    project_name: str
    today: date
    done_count: int
    open_count: int
    ok: int
    late: int
    at_risk: int
    unscheduled: int
    rows: tuple[TrackingRow, ...]


# ---------------------------------------------------------------------------- reminders and escalations


@dataclass(frozen=True, slots=True)
class Incident:
    """Something to remind about; (job, key) is claimed once, so each incident is posted once."""

    job: str
    key: str
    owner: MemberRow | None  # the person reminded; None: an escalation to the PM
    at: datetime
    today: date
    task: TaskRow | None = None
    risk: RiskRow | None = None
    responsible: MemberRow | None = None  # the task's or risk's owner, named in an escalation
    since: datetime | None = None  # blocked since / unchanged since
    age: timedelta | None = None  # working time since then (days off not counted)
    action: ActionRow | None = None
    away: bool = False  # the owner is on leave: told to the PM instead (`responsible` names them)
