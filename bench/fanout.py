"""Scheduler fan-out benchmark: `python bench/fanout.py`.

1. Daily prompts for 2,000 projects (20 members and 100 open tasks each), built and enqueued by the same
   unit of work the scheduler runs (claim + build + outbox, committed), on SQLite. Target ≤ 5 s, with a
   number of SQL statements that does not grow with members or tasks per project: it is counted with a
   before_cursor_execute listener and shown for two sizes; then again with everyone in three projects
   and private messages on, so the merged private prompts (one per person) go out in the same run.
2. Reminders at 10:00 for the same 2,000 projects, where each person is in four projects (20 tasks each),
   with the daily cap on (`TANDEM_REMINDER_DAILY_CAP` 5): the most urgent sent, the rest folded. The
   statements must not grow with members or tasks either (the cap's count is one per batch).
3. The weekly digest (tracking table) for one project with 10,000 tasks. Target ≤ 200 ms.

Fixture data is bulk-inserted directly into a fresh, migrated SQLite database in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, event, func, insert, select

from bot.db import make_engine, make_session_factory, upgrade_database
from models import Member, OutboundMessage, Project, Role, Task, TaskStatus
from reports.builders import build_weekly_digest
from scheduler.jobs import JobRunner

SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 11, 23, 17, 0, tzinfo=SHANGHAI)  # a Monday, the daily prompt's time
REMINDERS_AT = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)  # the same Monday, in working hours
SHARED = 4  # reminders: each person is in this many projects
CREATED = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
STATUSES = (TaskStatus.TODO, TaskStatus.IN_PROGRESS, TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED)


@dataclass
class Row:
    scenario: str
    projects: int
    members: int
    tasks: int
    output: str
    statements: int
    seconds: float
    cpu: float
    target: str

    @property
    def ok(self) -> str:
        limit = float(self.target.split()[1]) / (1000 if self.target.endswith("ms") else 1)
        return "ok" if self.seconds <= limit else "SLOW"


def fresh_database(directory: Path, name: str) -> Engine:
    url = f"sqlite:///{directory / name}"
    upgrade_database(url)
    return make_engine(url)


def populate(
    engine: Engine, *, projects: int, members: int, tasks: int, first_project: int = 1, shared: int = 1
) -> None:
    """Bulk insert: projects, their members (the first is the PM) and open tasks spread over the members;
    with `shared` > 1, each run of that many projects has the same people (one merged prompt each)."""
    rng = random.Random(42)
    with engine.begin() as connection:
        connection.execute(
            insert(Project),
            [
                {"id": first_project + p, "platform": "console", "chat_id": f"bench-{first_project + p}",
                 "name": f"项目{first_project + p}", "status": "active", "created_at": CREATED,
                 "next_task_no": tasks + 1}
                for p in range(projects)
            ],
        )
        member_id = (first_project - 1) * members + 1
        member_rows, task_rows = [], []
        for p in range(projects):
            project_id = first_project + p
            ids = list(range(member_id, member_id + members))
            member_id += members
            for m, mid in enumerate(ids):
                user_id = f"u{mid}" if shared == 1 else f"p{p // shared}-m{m}"
                member_rows.append({"id": mid, "project_id": project_id, "user_id": user_id, "name": f"成员{mid}",
                                    "role": Role.PM if m == 0 else Role.MEMBER, "joined_at": CREATED})
            for n in range(1, tasks + 1):
                status = STATUSES[n % len(STATUSES)]
                task_rows.append({
                    "project_id": project_id, "number": n, "title": f"任务 {n}：准备发布会物料与场地协调",
                    "owner_id": ids[n % members], "status": status,
                    "progress": rng.choice((0, 20, 40, 60, 80)) if status != TaskStatus.TODO else 0,
                    "start_date": date(2026, 11, 2), "due_date": date(2026, 11, 2) + timedelta(days=rng.randrange(0, 60)),
                    "blocked_reason": "等待第三方接口" if status == TaskStatus.BLOCKED else None,
                    "created_at": CREATED, "updated_at": CREATED, "status_changed_at": CREATED,
                })
        connection.execute(insert(Member), member_rows)
        for start in range(0, len(task_rows), 50_000):
            connection.execute(insert(Task), task_rows[start : start + 50_000])


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def daily_prompts(directory: Path, *, projects: int, members: int, tasks: int, shared: int = 1) -> Row:
    """With `shared` > 1 everyone is in `shared` projects and the console can send privately: the merged
    private prompts (one per person) go out in the same run, and the group prompts name them without @."""
    engine = fresh_database(directory, f"fanout-{projects}-{members}-{tasks}-{shared}.db")
    populate(engine, projects=projects, members=members, tasks=tasks, shared=shared)
    factory = make_session_factory(engine)
    runner = JobRunner(factory, clock=lambda: AT, private_platforms=("console",) if shared > 1 else ())
    with counting(engine) as statements:
        started, cpu = time.perf_counter(), time.process_time()
        report = runner.run(["daily-prompt"], AT)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    with factory() as session:
        queued = session.scalar(select(func.count()).select_from(OutboundMessage)) or 0
    merged = report.count("posted", "person-prompt")
    assert report.count("posted", "daily-prompt") == projects == queued - merged, report.summary()
    assert merged == (projects // shared * min(members, tasks) if shared > 1 else 0), report.summary()
    engine.dispose()
    scenario = "daily prompts, all projects" if shared == 1 else f"  + merged, people in {shared} projects"
    return Row(scenario, projects, members, tasks, f"{queued} messages", len(statements), elapsed, cpu, "≤ 5 s")


def reminders(directory: Path, *, projects: int, members: int, tasks: int) -> Row:
    engine = fresh_database(directory, f"reminders-{projects}-{members}-{tasks}.db")
    populate(engine, projects=projects, members=members, tasks=tasks, shared=SHARED)
    factory = make_session_factory(engine)
    runner = JobRunner(factory, clock=lambda: REMINDERS_AT, reminder_cap=5)
    with counting(engine) as statements:
        started, cpu = time.perf_counter(), time.process_time()
        report = runner.run(["reminders"], REMINDERS_AT)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert report.count("folded") > 0 and report.errors == 0, report.summary()
    engine.dispose()
    sent = report.count("posted") - report.count("posted", "escalate-blocked")
    return Row("reminders, cap 5, people in 4", projects, members, tasks, f"{sent}+{report.count('folded')} fold",
               len(statements), elapsed, cpu, "≤ 30 s")


def weekly_digest(directory: Path, *, tasks: int) -> Row:
    engine = fresh_database(directory, f"weekly-{tasks}.db")
    populate(engine, projects=1, members=50, tasks=tasks)
    factory = make_session_factory(engine)
    with factory() as session:
        project = session.get(Project, 1)
        assert project is not None
        build_weekly_digest(session, project, AT)  # warm up (statement cache, imports)
    best, best_cpu = float("inf"), float("inf")
    statements: list[str] = []
    reply, shown = None, ""
    for _ in range(5):
        with factory() as session:
            project = session.get(Project, 1)
            assert project is not None
            with counting(engine) as statements:
                started, cpu = time.perf_counter(), time.process_time()
                reply = build_weekly_digest(session, project, AT)
                shown = reply.plain_text()  # the tracking table is a Table section, rendered per platform
                best = min(best, time.perf_counter() - started)
                best_cpu = min(best_cpu, time.process_time() - cpu)
    assert reply is not None and "进度跟踪表" in (reply.title or "")
    engine.dispose()
    return Row("weekly digest, one project", 1, 50, tasks, f"{len(shown):,} chars",
               len(statements), best, best_cpu, "≤ 200 ms")


def _shown(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=2000)
    args = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="tandem-bench-") as tmp:
        directory = Path(tmp)
        rows.append(daily_prompts(directory, projects=args.projects, members=20, tasks=100))
        rows.append(daily_prompts(directory, projects=args.projects, members=5, tasks=25))
        rows.append(daily_prompts(directory, projects=args.projects, members=20, tasks=100, shared=3))
        rows.append(daily_prompts(directory, projects=args.projects, members=5, tasks=25, shared=3))
        rows.append(reminders(directory, projects=args.projects, members=20, tasks=100))
        rows.append(reminders(directory, projects=args.projects, members=5, tasks=25))
        rows.append(weekly_digest(directory, tasks=10_000))
    header = (f"{'scenario':<34} {'projects':>8} {'members/p':>9} {'tasks/p':>8} {'output':>14} {'SQL stmts':>9} "
              f"{'wall':>8} {'CPU':>8} {'target':>9}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r.scenario:<34} {r.projects:>8} {r.members:>9} {r.tasks:>8} {r.output:>14} {r.statements:>9} "
              f"{_shown(r.seconds):>8} {_shown(r.cpu):>8} {r.target:>9}  {r.ok}")
    same = rows[0].statements == rows[1].statements
    print(f"Reminders, {rows[2].members}×{rows[2].tasks} vs {rows[3].members}×{rows[3].tasks} per project: "
          f"{rows[2].statements} vs {rows[3].statements} statements (pages of 1,000 claims and outbox rows grow "
          "with the incidents).")
    print(f"\nload average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (wall time includes waiting for them).")
    print(f"SQL statements for {rows[0].members}×{rows[0].tasks} vs {rows[1].members}×{rows[1].tasks} per project: "
          f"{rows[0].statements} vs {rows[1].statements} ({'the same' if same else 'DIFFERENT'}).")
    print(f"With everyone in three projects, the merged prompts add {rows[2].statements - rows[0].statements} vs "
          f"{rows[3].statements - rows[1].statements} statements for {rows[2].output} vs {rows[3].output}: "
          "pages of the claims' executemany (1,000 rows) and of the slot look-up (500), never one per person.")


if __name__ == "__main__":
    main()
