"""Changing a task, risk or action item: every field change with its history row, written in one UPDATE.

An `Edit` is one person's change to one row at one moment (the message's own time). Each change it
is given records a `change` row at once, in the order given (the order `/任务 #12` shows them in); the
row's new values collect and go out together with `updated_at` in one plain UPDATE when it is applied
(`models.base.update_now`: no unit-of-work flush, the object updated in place). Status moves go
through `status()`, the one transition helper of every entity with a status.

Each history row also remembers the columns it overwrites as they were (`before`), so an undo can
restore them exactly: a status move remembers the values that go with it (when the status began,
completion and closing times, a task's blocked reason); a value set with `set()` that no recorded
change covers gets a row of its own at `apply()`, so nothing a message changes goes unrecorded.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy.orm import Session

from models.base import update_now
from models.history import record_change
from models.project import Member
from models.snapshots import column_values

# Values a status move may overwrite besides the status itself (those the row has are remembered).
_STATUS_COMPANIONS = ("status_changed_at", "completed_at", "done_at", "closed_at", "close_note", "blocked_reason")


class Tracked(Protocol):
    """A row with history and a status: a task, risk or action item."""

    id: int
    project_id: int

    @property
    def status(self) -> StrEnum: ...


class Edit:
    def __init__(self, session: Session, row: Tracked, *, entity: str, actor: Member | None, at: datetime) -> None:
        self._session = session
        self._row = row
        self._entity = entity
        self._actor = actor
        self._at = at
        self._values: dict[str, Any] = {}
        self._recorded = False
        self._remembered: set[str] = set()  # columns whose earlier values a history row holds

    @property
    def changed(self) -> bool:
        """Some value of the row changes (a note alone changes none)."""
        return bool(self._values)

    def record(
        self, field: str, old: object = None, new: object = None, note: str | None = None,
        *, columns: tuple[str, ...] = (),
    ) -> None:
        """A history row only (a note, or a change whose values go in through `set`); `columns` are
        the row's columns this change overwrites, remembered as they are now."""
        self._recorded = True
        fresh = tuple(c for c in columns if c not in self._remembered)
        self._remembered.update(fresh)
        before = column_values(self._row, fresh) if fresh else None  # type: ignore[arg-type]
        record_change(
            self._session, project_id=self._row.project_id, entity=self._entity, entity_id=self._row.id,
            actor=self._actor, at=self._at, field=field, old=old, new=new, note=note, before=before,
        )

    def status(self, new: StrEnum, *, note: str | None = None, **values: Any) -> None:
        """Move the row to status `new` (with the values that go with the move, such as `closed_at`)."""
        companions = tuple(c for c in _STATUS_COMPANIONS if c in values or hasattr(self._row, c))
        self.record("status", self._row.status.value, new.value, note, columns=("status", *companions))
        self._values.update(status=new, **values)

    def field(self, name: str, old: object, new: object, *, note: str | None = None) -> None:
        """Change one field to `new`, recorded as old → new."""
        self.record(name, old, new, note, columns=(name,))
        self._values[name] = new

    def set(self, **values: Any) -> None:
        """Values that go with the recorded changes without a history row of their own."""
        self._values.update(values)

    def apply(self) -> None:
        """Write the collected values and `updated_at` in one UPDATE (after a note alone, `updated_at`)."""
        for name, value in list(self._values.items()):
            if name not in self._remembered and getattr(self._row, name) != value:
                self.record(name, getattr(self._row, name), value, columns=(name,))  # e.g. a new blocked reason
        if self._values or self._recorded:
            update_now(self._session, self._row, {**self._values, "updated_at": self._at})  # type: ignore[arg-type]
        self._values, self._recorded, self._remembered = {}, False, set()
