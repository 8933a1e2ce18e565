"""A card already sent, re-rendered from the database (issue 11): the same sections in the same order,
each task's line and buttons rebuilt from the task as it is now (`text.prompt_task_section`, the daily
prompt's own builder); a task closed in the meantime stays where it was, shown as such, without
buttons. Everything that is not a task line is kept as it was sent.

A section is a task's when its one line is a task line (`  #N …`, as `task_brief` writes it); the
project's task numbers are never reused, so `#N` names the same task for ever."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.messages import Reply, Section
from models import OPEN_TASK_STATUSES, Task
from reports.records import TaskRow
from reports.text import prompt_task_section

_TASK_LINE = re.compile(r"^\s*#(\d+) ")


def task_number(section: Section) -> int | None:
    """The task a section shows, when it is one task's line (and its buttons)."""
    if len(section.lines) != 1 or section.fields or section.table is not None:
        return None
    match = _TASK_LINE.match(section.lines[0])
    return int(match.group(1)) if match else None


def task_rows(session: Session, project_id: int, numbers: set[int]) -> dict[int, TaskRow]:
    if not numbers:
        return {}
    found = session.scalars(select(Task).where(Task.project_id == project_id, Task.number.in_(sorted(numbers))))
    return {
        t.number: TaskRow(
            t.id, t.project_id, t.number, t.title, t.status, t.progress, t.due_date, t.owner_id, t.blocked_reason,
            t.status in OPEN_TASK_STATUSES,
        )
        for t in found
    }


def refreshed(session: Session, project_id: int, sent: Reply, today: date) -> Reply:
    """`sent` with every task section rebuilt from the task now (`today`: the day the card was for)."""
    numbers = [task_number(s) for s in sent.sections]
    rows = task_rows(session, project_id, {n for n in numbers if n is not None})
    sections = tuple(
        prompt_task_section(rows[number], today, section.title) if number is not None and number in rows else section
        for section, number in zip(sent.sections, numbers, strict=True)
    )
    return replace(sent, sections=sections)
