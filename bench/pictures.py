"""Pictures benchmark: `python bench/pictures.py`.

1. The Gantt chart for one project of 20, 150 and 1,000 tasks (subtasks, dependencies, a mix of
   statuses): the plan loaded and every page rendered to PNG; `/甘特图`'s reply as built inside the
   transaction (the plan loaded, its first pages' drawings as JSON), and those pages drawn (what the
   outbox sender does after the commit). Target: a 150-task project in a few seconds.
2. The dashboard page for 150 and 1,000 tasks: rows computed and the HTML rendered (what
   `GET /dashboard/…` does after checking the link). Target: under 1 s at 150 tasks.

Best of three runs each (the first run also pays matplotlib's font set-up, shown apart), on a fresh,
migrated SQLite database in a temporary directory.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.dashboard.routes import render_page
from bot.db import make_engine, make_session_factory, upgrade_database
from models import Department, Member, Project, Role, Task, TaskStatus, task_dependency
from reports import drawings, gantt, pictures
from reports.dashboard import dashboard

SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 11, 23, 17, 0, tzinfo=SHANGHAI)
CREATED = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
STATUSES = (TaskStatus.TODO, TaskStatus.IN_PROGRESS, TaskStatus.IN_PROGRESS, TaskStatus.DONE, TaskStatus.BLOCKED)


def populate(engine: Engine, project_id: int, tasks: int) -> None:
    rng = random.Random(project_id)
    with engine.begin() as connection:
        connection.execute(insert(Project), [{"id": project_id, "platform": "console", "chat_id": f"bench-{project_id}",
                                              "name": f"发布会{tasks}", "status": "active", "created_at": CREATED,
                                              "deadline": date(2027, 2, 1), "next_task_no": tasks + 1}])
        departments = [{"id": project_id * 10 + d, "project_id": project_id, "name": name}
                       for d, name in enumerate(("研发部", "市场部", "行政部", "设计部"))]
        connection.execute(insert(Department), departments)
        members = [{"id": project_id * 100 + m, "project_id": project_id, "user_id": f"u{project_id}-{m}",
                    "name": f"成员{m}", "role": Role.PM if m == 0 else Role.MEMBER, "joined_at": CREATED} for m in range(12)]
        connection.execute(insert(Member), members)
        rows = []
        for n in range(1, tasks + 1):
            status = STATUSES[n % len(STATUSES)]
            start = date(2026, 11, 2) + timedelta(days=rng.randrange(0, 70))
            rows.append({
                "id": project_id * 10_000 + n, "project_id": project_id, "number": n,
                "title": f"任务{n} 准备发布会物料与场地协调", "owner_id": members[n % 12]["id"],
                "department_id": departments[n % 4]["id"], "status": status,
                "progress": 100 if status == TaskStatus.DONE else rng.choice((0, 20, 40, 60, 80)),
                "start_date": start, "due_date": start + timedelta(days=rng.randrange(0, 21)),
                "parent_id": project_id * 10_000 + (n // 5) * 5 if n % 5 and n > 5 else None,  # groups of 5
                "blocked_reason": "等待接口" if status == TaskStatus.BLOCKED else None,
                "created_at": CREATED, "updated_at": CREATED, "status_changed_at": CREATED,
                "completed_at": CREATED + timedelta(days=rng.randrange(0, 20)) if status == TaskStatus.DONE else None,
            })
        connection.execute(insert(Task), rows)
        edges = [{"task_id": project_id * 10_000 + n, "predecessor_id": project_id * 10_000 + n - 2}
                 for n in range(3, tasks + 1) if n % 3 == 0]
        connection.execute(insert(task_dependency), edges)


def best(run: object, times: int = 3) -> tuple[float, object]:
    found, result = float("inf"), None
    for _ in range(times):
        started = time.perf_counter()
        result = run()  # type: ignore[operator]
        found = min(found, time.perf_counter() - started)
    return found, result


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'pictures.db'}"
        upgrade_database(url)
        engine = make_engine(url)
        sizes = (20, 150, 1000)
        for i, size in enumerate(sizes, 1):
            populate(engine, i, size)
        factory = make_session_factory(engine)
        print("| scenario | tasks | pages | PNG bytes | seconds (best of 3) |")
        print("|---|---:|---:|---:|---:|")
        with factory() as session:
            project = session.get(Project, 1)
            started = time.perf_counter()
            gantt.render_gantt(pictures.project_plan(session, project, AT))  # type: ignore[arg-type]
            print(f"| first render in a process (font set-up) | 20 | 1 | | {time.perf_counter() - started:.2f} |")
        for i, size in enumerate(sizes, 1):
            with factory() as session:
                project = session.scalars(select(Project).where(Project.id == i)).one()
                seconds, pages = best(lambda p=project: gantt.render_gantt(pictures.project_plan(session, p, AT)))
                total = sum(len(p.png) for p in pages)  # type: ignore[attr-defined]
                print(f"| Gantt, every page | {size} | {len(pages)} | {total:,} | {seconds:.2f} |")  # type: ignore[arg-type]
                seconds, reply = best(lambda p=project: pictures.build_gantt(session, p, AT))
                shown = len(reply.attachments)  # type: ignore[attr-defined]
                stored = len(json.dumps(reply.to_payload(), ensure_ascii=False).encode())  # type: ignore[attr-defined]
                print(f"| `/甘特图` in the transaction: plan + drawings (first {pictures.MAX_PAGES} pages at most) "
                      f"| {size} | {shown} | {stored:,} B of JSON | {seconds:.2f} |")
                seconds, drawn = best(lambda r=reply: drawings.draw_reply(r))  # type: ignore[misc]
                total = sum(len(a.data) for a in drawn.attachments)  # type: ignore[attr-defined]
                print(f"| `/甘特图` pages drawn by the outbox sender (after the commit) | {size} | {shown} | {total:,} "
                      f"| {seconds:.2f} |")
        for i, size in ((2, 150), (3, 1000)):
            with factory() as session:
                project = session.scalars(select(Project).where(Project.id == i)).one()
                seconds, html = best(lambda p=project: render_page(dashboard(session, p, AT)))
                print(f"| dashboard page (rows + HTML) | {size} | | {len(html):,} chars | {seconds:.3f} |")  # type: ignore[arg-type]
        engine.dispose()


if __name__ == "__main__":
    main()
