"""Column values as JSON and back: what a history row remembers of the row it changed (for undo)."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import Enum
from typing import Any

from sqlalchemy import Date, Time, inspect

from models.base import Base, UTCDateTime

# Relationships' ids, remembered like columns: the predecessors of a task (sorted), and its departments
# after the first (in their order: the order is what a 配合部门 cell says).
PREDECESSORS = "predecessor_ids"
OTHER_DEPARTMENTS = "other_department_ids"
RELATIONSHIP_KEYS = frozenset({PREDECESSORS, OTHER_DEPARTMENTS})


def encode_value(value: object) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def encode_values(values: dict[str, object]) -> dict[str, Any]:
    return {key: encode_value(value) for key, value in values.items()}


def column_values(row: Base, columns: list[str] | tuple[str, ...]) -> dict[str, object]:
    """The row's current values of those attributes (a task's predecessors as their ids)."""
    found: dict[str, object] = {}
    for key in columns:
        if key == PREDECESSORS:
            found[key] = sorted(p.id for p in row.predecessors)  # type: ignore[attr-defined]
        elif key == OTHER_DEPARTMENTS:
            found[key] = [d.id for d in row.other_departments]  # type: ignore[attr-defined]
        else:
            found[key] = getattr(row, key)
    return found


def decode_value(model: type[Base], key: str, value: Any) -> object:
    """A JSON value back into the Python value of the model's attribute `key`."""
    if value is None or key in RELATIONSHIP_KEYS:
        return value
    column = inspect(model).columns[key]
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return datetime.fromisoformat(value)
    if isinstance(kind, Date):
        return date.fromisoformat(value)
    if isinstance(kind, Time):
        return time.fromisoformat(value)
    enum_class = getattr(kind, "enum_class", None)
    if enum_class is not None:
        return enum_class(value)
    return value


# History fields (`change.field`) and the columns of the changed row they stand for.
FIELD_COLUMNS = {
    "title": "title",
    "owner": "owner_id",
    "due": "due_date",
    "start": "start_date",
    "dept": "department_id",
    "deliverable": "deliverable",
    "acceptance_criteria": "acceptance_criteria",
    "wbs": "wbs_code",
    "parent": "parent_id",
    "deps": PREDECESSORS,
    "level": "level",
    "strategy": "strategy",
    "impact": "impact",
    "mitigation": "mitigation",
    "trigger": "trigger",
    "description": "description",
    "content": "content",
    "role": "role",
    "progress": "progress",
    "milestone": "is_milestone",
}
