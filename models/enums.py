"""Status and level enumerations, stored as short English codes (labels live in reports.format)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import Enum


def enum_column(enum_cls: type[StrEnum]) -> Enum:
    """A portable VARCHAR + CHECK column holding the enum's values (not its member names)."""
    return Enum(
        enum_cls,
        native_enum=False,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
        name=enum_cls.__name__.lower(),
        create_constraint=True,
    )


class ProjectStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


class Role(StrEnum):
    PM = "pm"
    CO_PM = "co_pm"
    MEMBER = "member"


class TaskStatus(StrEnum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    BLOCKED = "blocked"
    CANCELLED = "cancelled"

    @property
    def is_open(self) -> bool:
        return self not in (TaskStatus.DONE, TaskStatus.CANCELLED)


OPEN_TASK_STATUSES: tuple[TaskStatus, ...] = (TaskStatus.TODO, TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED)


class RiskLevel(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class RiskStrategy(StrEnum):
    AVOID = "avoid"
    MITIGATE = "mitigate"
    TRANSFER = "transfer"
    ACCEPT = "accept"


class RiskStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class ActionStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class CalendarDayKind(StrEnum):
    OFF = "off"
    WORK = "work"


class InboundStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class OutboundStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


def enum_values(enum_cls: type[StrEnum]) -> list[Any]:
    return [m.value for m in enum_cls]
