"""Numbered entities — tasks #N, risks RN, action items AN, decisions DN — and their one lookup.

Every lookup is by (project, number), the project taken from the group the message came from, so a
group can never reach another group's rows whatever number it sends.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from models.meeting import ActionItem, Decision
from models.risk import Risk
from models.task import Task

Numbered = TypeVar("Numbered", Task, Risk, ActionItem, Decision)


@cache
def _by_number(model: type[Any]) -> Select[Any]:
    # Built once per model with bind parameters: this runs for nearly every command.
    return select(model).where(model.project_id == bindparam("project_id"), model.number == bindparam("number"))


def get_numbered(session: Session, model: type[Numbered], /, *, project_id: int, number: int) -> Numbered | None:
    found: Numbered | None = session.scalar(_by_number(model), {"project_id": project_id, "number": number})
    return found
