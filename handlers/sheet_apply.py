"""Writing a previewed plan: new tasks created in WBS order, matched tasks changed field by field with
their history rows, unchanged ones left alone — all in the caller's transaction, so a refusal halfway
(a loop with tasks outside the sheet) leaves nothing half-imported.

New tasks go through `models.task_create.create_tasks` (as `/任务 新增`), changes through `models.Edit`
(as `/任务 修改`, `/任务 依赖`): one history row per field, with the columns it overwrote, so `/撤销`
takes an import back like any other message. A row whose owner or department is gone since the
preview, or that hangs on such a row, is skipped and said.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from handlers.errors import UserError
from handlers.sheet_plan import Plan, PlannedTask, Problem
from handlers.sheet_preview import Match, existing_tasks, match_tasks
from models import Department, Edit, Member, Project, Task, TaskStatus
from models.history import record_changes
from models.snapshots import OTHER_DEPARTMENTS, PREDECESSORS
from models.task import dependency_edges, parent_links, set_other_departments, task_department
from models.task_create import NewTask, create_tasks, link_new_tasks
from models.task_sheet import sheet_task_rows

# Field of the preview → (history field, column).
_COLUMNS = {"title": ("title", "title"), "owner": ("owner", "owner_id"), "start": ("start", "start_date"),
            "due": ("due", "due_date"), "deliverable": ("deliverable", "deliverable"),
            "acceptance": ("acceptance_criteria", "acceptance_criteria"), "departments": ("dept", "department_id"),
            "parent": ("parent", "parent_id"), "wbs": ("wbs", "wbs_code")}


@dataclass
class ImportResult:
    created: list[Task] = field(default_factory=list)
    updated: list[Task] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[Problem] = field(default_factory=list)


def _code_key(code: str) -> tuple[int, ...]:
    return tuple(int(part) for part in code.split("."))


def _wbs_order(matches: list[Match]) -> list[Match]:
    """New rows in WBS order when every one has a code (parents before subtasks), else as the file has them."""
    if matches and all(m.row.wbs for m in matches):
        return sorted(matches, key=lambda m: _code_key(m.row.wbs or ""))
    return matches


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return "、".join(map(str, value)) or None
    return str(value)


class _Writer:
    def __init__(self, session: Session, project: Project, *, actor: Member | None, at: datetime) -> None:
        self.session, self.project, self.actor, self.at = session, project, actor, at
        members = session.scalars(select(Member).where(Member.project_id == project.id, Member.removed_at.is_(None)))
        self.members = {m.name.strip().lower(): m for m in members}
        self.departments: dict[str, Department] = {d.name.strip().lower(): d for d in project.departments}
        self.result = ImportResult()
        self.by_row: dict[int, Task] = {}  # spreadsheet row → its task (matched or created)

    def check(self, row: PlannedTask) -> Problem | None:
        """Why a row cannot be written any more (its owner or a department gone since the preview)."""
        if row.owner and row.owner.strip().lower() not in self.members:
            return Problem(row.row, "负责人", row.owner, "项目里已经没有这个成员，这一行没有导入")
        for name in row.departments:
            if name.strip().lower() not in self.departments:
                return Problem(row.row, "部门", name, "已经没有这个部门，这一行没有导入")
        return None

    def owner_id(self, row: PlannedTask) -> int | None:
        return self.members[row.owner.strip().lower()].id if row.owner else None

    def department_ids(self, names: tuple[str, ...] | list[str]) -> list[int]:
        return [self.departments[n.strip().lower()].id for n in names]

    def task_of(self, ref: object) -> Task | None:
        """A reference of the preview (`#3`, `第5行`) → the task it now is."""
        text = str(ref)
        if text.startswith("#"):
            return self.numbers.get(int(text[1:]))
        return self.by_row.get(int("".join(c for c in text if c.isdigit())))

    def create(self, matches: list[Match]) -> None:
        """The new rows' tasks in the given (WBS) order, then their parents, other departments, notes and
        predecessors — a statement or two each, for all of them."""
        specs = []
        for match in matches:
            row = match.row
            departments = self.department_ids(row.departments)
            specs.append(NewTask(
                row.title, owner_id=self.owner_id(row), department_id=departments[0] if departments else None,
                start=row.start, due=row.due, deliverable=row.deliverable, acceptance=row.acceptance, wbs_code=row.wbs,
            ))
        tasks = create_tasks(self.session, self.project, specs, actor=self.actor, at=self.at)
        for match, task in zip(matches, tasks, strict=True):
            self.by_row[match.row.row] = task
            self.numbers[task.number] = task
        parents: dict[int, int] = {}
        others: list[dict[str, int]] = []
        edges: list[tuple[int, int]] = []
        notes: list[tuple[int, str, object, object, str | None]] = []
        for match, task in zip(matches, tasks, strict=True):
            row = match.row
            if row.parent_row is not None:
                parents[task.id] = self.by_row[row.parent_row].id
            others += [{"task_id": task.id, "department_id": d, "position": i}
                       for i, d in enumerate(self.department_ids(row.departments)[1:])]
            edges += [(task.id, self.by_row[r].id) for r in row.predecessor_rows]
            if row.note:
                notes.append((task.id, "note", None, None, row.note))
        link_new_tasks(self.session, tasks, parents=parents, edges=edges)
        if others:
            self.session.execute(insert(task_department), others)
        record_changes(self.session, project_id=self.project.id, entity="task", actor=self.actor, at=self.at,
                       changes=notes)
        self.result.created = tasks

    def update(self, match: Match, task: Task) -> None:
        row, values = match.row, match.values
        edit = Edit(self.session, task, entity="task", actor=self.actor, at=self.at)
        for key in match.changed:
            if key == "predecessors":
                continue
            history, column = _COLUMNS[key]
            old = match.existing.wbs if key == "wbs" and match.existing else (match.existing.values.get(key)
                                                                                if match.existing else None)
            new = row.wbs if key == "wbs" else values[key]
            # The departments after the first are remembered too, so /撤销 restores all of them.
            extra = (OTHER_DEPARTMENTS,) if key == "departments" else ()
            edit.record(history, _text(old), _text(new), columns=(column, *extra))
            if key == "owner":
                edit.set(owner_id=self.owner_id(row))
            elif key == "departments":
                ids = self.department_ids(row.departments)
                edit.set(department_id=ids[0])
                set_other_departments(self.session, task_id=task.id, department_ids=ids[1:])
            elif key == "parent":
                parent = self.task_of(new)
                edit.set(parent_id=parent.id if parent else None)
            else:
                edit.set(**{column: new})
        if "predecessors" in match.changed:
            old_refs = match.existing.values.get("predecessors") if match.existing else None
            predecessors = [t for t in (self.task_of(r) for r in values["predecessors"]) if t is not None]  # type: ignore[attr-defined]
            new_refs = [t.ref for t in sorted(predecessors, key=lambda t: t.number)]
            edit.record("deps", _text(old_refs), ",".join(new_refs), columns=(PREDECESSORS,))
            task.predecessors = sorted(predecessors, key=lambda t: t.number)
        edit.apply()
        self.result.updated.append(task)

    numbers: dict[int, Task]


def _check_loops(session: Session, project_id: int) -> None:
    """The sheet's own loops were refused in the preview; this catches one closed with tasks outside it."""
    session.flush()
    parents = parent_links(session, project_id=project_id)
    for start, (number, _parent) in parents.items():
        seen, current = {start}, parents[start][1]
        while current is not None:
            if current in seen:
                raise UserError(f"导入后 #{number} 的上级任务会形成循环，没有导入。请检查表格里的 WBS编号。")
            seen.add(current)
            current = parents.get(current, (0, None))[1]
    graph = dependency_edges(session, project_id=project_id)
    state: dict[int, int] = {}
    for root in graph.predecessors:
        stack = [(root, iter(graph.predecessors.get(root, ())))]
        state[root] = 1
        while stack:
            node, edges = stack[-1]
            nxt = next(edges, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                raise UserError(f"导入后 #{graph.numbers[nxt]} 的前置依赖会形成循环，没有导入。请检查表格里的前置依赖。")
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(graph.predecessors.get(nxt, ()))))


def apply_plan(session: Session, project: Project, plan: Plan, *, actor: Member | None, at: datetime) -> ImportResult:
    """Write the plan into the project (compared again with the tasks as they are now)."""
    writer = _Writer(session, project, actor=actor, at=at)
    matches = match_tasks(plan, existing_tasks(sheet_task_rows(session, project_id=project.id)))
    bad: dict[int, Problem] = {}
    for match in matches:
        if (problem := writer.check(match.row)) is not None:
            bad[match.row.row] = problem
    changed = True
    while changed:  # a row hanging on a skipped row is skipped too
        changed = False
        for match in matches:
            row = match.row
            if row.row in bad:
                continue
            blocked = [r for r in [row.parent_row, *row.predecessor_rows] if r is not None and r in bad]
            if blocked:
                bad[row.row] = Problem(row.row, "", "", f"依赖的第 {blocked[0]} 行没有导入，这一行也没有导入")
                changed = True
    good = [m for m in matches if m.row.row not in bad]
    numbers = [m.existing.number for m in good if m.existing is not None]
    tasks: list[Task] = list(
        session.scalars(select(Task).where(Task.project_id == project.id, Task.number.in_(numbers)))) if numbers else []
    writer.numbers = {t.number: t for t in tasks}
    for match in good:
        if match.existing is not None:
            writer.by_row[match.row.row] = writer.numbers[match.existing.number]
    new = _wbs_order([m for m in good if m.existing is None])
    writer.create(new)
    for match in good:
        if match.existing is None:
            continue
        task = writer.numbers[match.existing.number]
        if not match.changed:
            writer.result.unchanged += 1
        elif task.status == TaskStatus.CANCELLED:
            bad[match.row.row] = Problem(match.row.row, "", "", f"{task.ref} 已取消，没有修改")
        else:
            writer.update(match, task)
    _check_loops(session, project.id)
    writer.result.skipped = sorted(bad.values(), key=lambda p: p.row)
    return writer.result

