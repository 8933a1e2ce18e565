"""Benchmark the command language through the whole pipeline, in process, on a SQLite file database.

    python bench/commands.py [--commands 2000] [--profile]

1. Throughput: a realistic mix of adds, updates and lists, each message going
   dispatcher.accept → dispatcher.process → deliver_console (three transactions, as `tandem say` does).
   Target ≥ 300 commands/s on a 2-core machine.
2. `/任务 列表` on a project with 500 and with 5,000 tasks (bulk-inserted, not through commands):
   time through the same pipeline (target ≤ 100 ms) and the SQL statements issued, which must not grow.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, event, insert, select

from bot.config import Settings
from bot.platforms.console import console_incoming, deliver_console
from bot.runtime import Runtime, build_runtime
from models import Department, Member, Project, Task, TaskStatus

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)  # a Monday
PEOPLE = ("李四", "赵六", "张三", "孙八")


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Counter:
    def __init__(self, engine: Engine) -> None:
        self.engine, self.count = engine, 0

    def __enter__(self) -> Counter:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, *_args: object) -> None:
        self.count += 1


def say(runtime: Runtime, clock: Clock, chat: str, text: str, name: str = "王经理") -> list[str]:
    """One message through the whole console pipeline; returns what the bot printed."""
    incoming = console_incoming(text, chat_id=chat, user_id=name, name=name, at=clock())
    for event_id in runtime.dispatcher.accept([incoming]):
        runtime.dispatcher.process(event_id)
    out: list[str] = []
    deliver_console(runtime.session_factory, out.append, chat_id=chat, clock=clock)
    return out


def setup_project(runtime: Runtime, clock: Clock, chat: str) -> None:
    say(runtime, clock, chat, "/项目 创建 压测项目 部门:研发部,市场部,行政部")
    say(runtime, clock, chat, "/成员 添加 @李四 @赵六 部门:研发部")
    say(runtime, clock, chat, "/成员 添加 @张三 部门:市场部")
    say(runtime, clock, chat, "/成员 添加 @孙八 部门:行政部")


def workload(count: int) -> list[tuple[str, str]]:
    """(sender, text): per ten messages four adds, three updates by the owners, three lists/details."""
    messages: list[tuple[str, str]] = []
    owners: dict[int, str] = {}
    for i in range(count):
        person = PEOPLE[i % len(PEOPLE)]
        task_no = len(owners)
        kind = i % 10 if task_no else 0
        if kind in (0, 3, 6):
            owners[task_no + 1] = person
            messages.append(("王经理", f"/任务 新增 任务{task_no + 1} @{person} 截止:周五 部门:研发部"))
        elif kind == 1:
            messages.append((owners[task_no], f"#{task_no} 进度 {30 + i % 60}% 联调中"))
        elif kind == 2:
            messages.append(("王经理", "/任务 列表"))
        elif kind == 4:
            messages.append((owners[task_no - 1] if task_no > 1 else owners[task_no], f"/完成 #{max(task_no - 1, 1)}"))
        elif kind == 5:
            messages.append((person, f"/风险 新增 风险{i} 等级:高 影响:延期 @{person}"))
        elif kind == 7:
            messages.append((owners[task_no], f"#{task_no} 卡住了，等接口"))
        elif kind == 8:
            messages.append((person, f"/任务 #{task_no}"))
        else:
            messages.append(("王经理", f"/行动 新增 行动{i} @{person} 截止:下周一"))
    return messages


def bench_throughput(runtime: Runtime, clock: Clock, count: int, profile: bool) -> dict[str, float]:
    # Warm caches (compiled statements, dateparser) on a separate project first.
    setup_project(runtime, clock, "warm")
    for name, text in workload(100):
        say(runtime, clock, "warm", text, name)
    setup_project(runtime, clock, "bench")
    messages = workload(count)
    latencies: list[float] = []
    profiler = cProfile.Profile() if profile else None
    cpu_started = time.process_time()
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    for name, text in messages:
        t0 = time.perf_counter()
        out = say(runtime, clock, "bench", text, name)
        latencies.append(time.perf_counter() - t0)
        if len(out) != 1 or "用法" in out[0] or "只有" in out[0]:
            raise SystemExit(f"unexpected reply to {text!r}: {out}")
        clock.now += timedelta(seconds=1)
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    if profiler:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    latencies.sort()
    return {
        "commands": len(messages),
        "per_second": len(messages) / elapsed,
        "per_cpu_second": len(messages) / cpu,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def bulk_tasks(runtime: Runtime, chat: str, count: int) -> None:
    """Insert `count` tasks straight into the database (executemany), a realistic spread of states."""
    with runtime.session_factory.begin() as session:
        project = session.scalar(select(Project).where(Project.chat_id == chat))
        assert project is not None
        owners = list(session.scalars(select(Member.id).where(Member.project_id == project.id)))
        departments = list(session.scalars(select(Department.id).where(Department.project_id == project.id)))
        now = START
        statuses = [TaskStatus.TODO, TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED, TaskStatus.DONE, TaskStatus.TODO]
        rows: list[dict[str, Any]] = [
            {
                "project_id": project.id, "number": i + 1, "title": f"批量任务 {i + 1} 的标题",
                "owner_id": owners[i % len(owners)], "department_id": departments[i % len(departments)],
                "due_date": date(2026, 11, 1) + timedelta(days=i % 90),
                "status": statuses[i % len(statuses)], "progress": (i * 7) % 100, "created_at": now, "updated_at": now,
                "status_changed_at": now, "blocked_reason": "等接口" if i % 5 == 2 else None,
            }
            for i in range(count)
        ]
        session.execute(insert(Task), rows)
        project.next_task_no = count + 1


def bench_list(runtime: Runtime, clock: Clock, size: int, runs: int = 30) -> dict[str, float]:
    chat = f"list-{size}"
    setup_project(runtime, clock, chat)
    bulk_tasks(runtime, chat, size)
    say(runtime, clock, chat, "/任务 列表")  # warm
    timings: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = say(runtime, clock, chat, "/任务 列表")
        timings.append(time.perf_counter() - t0)
    assert out and "未完成的任务" in out[0], out
    with Counter(runtime.engine) as counter:
        say(runtime, clock, chat, "/任务 列表")
    handler = _handler_statements(runtime, clock, chat)
    return {
        "tasks": size,
        "median_ms": statistics.median(timings) * 1000,
        "max_ms": max(timings) * 1000,
        "statements": counter.count,
        "handler_statements": handler,
    }


def _handler_statements(runtime: Runtime, clock: Clock, chat: str) -> int:
    """Statements issued by the /任务 列表 handler alone (the pipeline's own are constant)."""
    from handlers import handle_message

    incoming = console_incoming("/任务 列表", chat_id=chat, user_id="王经理", name="王经理", at=clock())
    with runtime.session_factory() as session, session.begin():
        with Counter(runtime.engine) as whole:
            handle_message(session, incoming, registry=runtime.registry, default_timezone="Asia/Shanghai")
        session.rollback()
    incoming = console_incoming("/帮助 任务", chat_id=chat, user_id="王经理", name="王经理", at=clock())
    with runtime.session_factory() as session, session.begin():
        with Counter(runtime.engine) as baseline:  # project lookup, sender, savepoint: same for every command
            handle_message(session, incoming, registry=runtime.registry, default_timezone="Asia/Shanghai")
        session.rollback()
    return whole.count - baseline.count


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commands", type=int, default=2000, help="messages in the throughput run")
    parser.add_argument("--profile", action="store_true", help="cProfile the throughput run (to stderr)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="tandem-bench-") as tmp:
        settings = Settings(_env_file=None, database_url=f"sqlite:///{Path(tmp) / 'bench.db'}")  # type: ignore[call-arg]
        clock = Clock()
        runtime = build_runtime(settings, clock=clock)
        try:
            throughput = bench_throughput(runtime, clock, args.commands, args.profile)
            lists = [bench_list(runtime, clock, size) for size in (500, 5000)]
        finally:
            runtime.close()

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Tandem command benchmark — SQLite file database, in process, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at the end")
    print()
    print(table([
        ("measure", "result", "target"),
        ("commands through accept → process → deliver", f"{throughput['per_second']:.0f} /s", "≥ 300 /s"),
        ("  per second of this process's CPU time", f"{throughput['per_cpu_second']:.0f} /s", ""),
        ("  latency p50 / p99", f"{throughput['p50_ms']:.2f} / {throughput['p99_ms']:.2f} ms", ""),
        ("  messages in the mix", f"{throughput['commands']:.0f}", ""),
    ]))
    print()
    print(table([
        ("/任务 列表", "median", "max", "SQL statements, whole pipeline", "of which the handler (with its savepoint)"),
        *[
            (f"{row['tasks']:.0f} tasks", f"{row['median_ms']:.1f} ms", f"{row['max_ms']:.1f} ms",
             f"{row['statements']:.0f}", f"{row['handler_statements']:.0f}")
            for row in lists
        ],
    ]))
    ok = throughput["per_second"] >= 300 and all(r["median_ms"] <= 100 for r in lists)
    ok = ok and lists[0]["statements"] == lists[1]["statements"]
    print()
    print("targets met" if ok else "TARGETS MISSED")


if __name__ == "__main__":
    main()
