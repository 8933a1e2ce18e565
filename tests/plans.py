"""Large plans written straight into the database (hundreds of tasks in one statement), for the tests and
benchmarks that need a big Gantt chart without typing every `/任务 新增`."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, insert, select, update

from models import Project, Task, TaskStatus, task_dependency

CREATED = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
STATUSES = (TaskStatus.TODO, TaskStatus.IN_PROGRESS, TaskStatus.IN_PROGRESS, TaskStatus.DONE, TaskStatus.BLOCKED)


def add_tasks(engine: Engine, project_id: int, count: int, *, first: date = date(2026, 11, 2), seed: int = 1) -> list[int]:
    """`count` tasks numbered after the project's existing ones: groups of five under a parent, every
    third depending on the task two before it, a mix of statuses. Returns the new task ids in order."""
    rng = random.Random(seed)
    with engine.begin() as connection:
        start_no = connection.execute(select(Project.next_task_no).where(Project.id == project_id)).scalar_one()
        rows = []
        for n in range(start_no, start_no + count):
            status = STATUSES[n % len(STATUSES)]
            start = first + timedelta(days=rng.randrange(0, 70))
            rows.append({
                "project_id": project_id, "number": n, "title": f"任务{n} 准备发布会物料与场地协调", "status": status,
                "progress": 100 if status == TaskStatus.DONE else rng.choice((0, 20, 40, 60, 80)),
                "start_date": start, "due_date": start + timedelta(days=rng.randrange(0, 21)),
                "blocked_reason": "等待接口" if status == TaskStatus.BLOCKED else None,
                "created_at": CREATED, "updated_at": CREATED, "status_changed_at": CREATED,
                "completed_at": CREATED + timedelta(days=rng.randrange(0, 20)) if status == TaskStatus.DONE else None,
            })
        connection.execute(insert(Task), rows)
        ids = list(connection.execute(
            select(Task.id).where(Task.project_id == project_id, Task.number >= start_no).order_by(Task.number)
        ).scalars())
        for i, task_id in enumerate(ids):
            if i % 5:
                connection.execute(update(Task).where(Task.id == task_id).values(parent_id=ids[i - i % 5]))
        edges = [{"task_id": ids[i], "predecessor_id": ids[i - 2]} for i in range(2, len(ids)) if i % 3 == 0]
        if edges:
            connection.execute(insert(task_dependency), edges)
        connection.execute(update(Project).where(Project.id == project_id).values(next_task_no=start_no + count))
    return ids
