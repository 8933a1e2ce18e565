"""`tandem jobs run` end to end: a temporary SQLite database, `tandem say --at`, then jobs as if at T."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select

from bot.cli import main
from bot.config import get_settings
from models import OutboundMessage


@pytest.fixture
def tandem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("TANDEM_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("TANDEM_TIMEZONE", "Asia/Shanghai")
    monkeypatch.chdir(tmp_path)  # no stray .env
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def run(cli: CliRunner, *args: str) -> Result:
    result = cli.invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def setup_project(cli: CliRunner, chat: str = "console", name: str = "发布会") -> None:
    run(cli, "say", "--chat", chat, "--name", "王经理", "--at", "2026-11-16T10:00", f"/项目 创建 {name}")
    run(cli, "say", "--chat", chat, "--name", "王经理", "--at", "2026-11-16T10:01", "/任务 新增 写发布稿 @李四 截止:2026-11-20")
    run(cli, "say", "--chat", chat, "--name", "王经理", "--at", "2026-11-16T10:02", "/任务 新增 联调 @王五 截止:2026-11-30")


def test_jobs_run_posts_what_is_due_once_and_prints_it(tandem: CliRunner) -> None:
    setup_project(tandem)
    early = run(tandem, "jobs", "run", "daily-prompt", "--at", "2026-11-23T16:59")
    assert early.stdout == "" and "nothing due" in early.stderr
    first = run(tandem, "jobs", "run", "daily-prompt", "--at", "2026-11-23T17:00")
    assert "【今日进度更新 · 发布会 · 11-23(周一)】" in first.stdout  # issue 10: the project's name in the title
    assert "@李四（1 项）\n  #1 写发布稿 · 截止11-20(周五) ⚠逾期3天" in first.stdout
    assert "daily-prompt posted 1" in first.stderr
    again = run(tandem, "jobs", "run", "daily-prompt", "--at", "2026-11-23T17:20")
    assert again.stdout == "" and "daily-prompt already 1" in again.stderr
    weekend = run(tandem, "jobs", "run", "daily-prompt", "--at", "2026-11-21T17:00")
    assert weekend.stdout == ""
    # A user's reply updates the task; the digest at 18:00 goes to the PM (printed with its addressee).
    run(tandem, "say", "--name", "李四", "--at", "2026-11-23T17:30", "#1 完成")
    digest = run(tandem, "jobs", "run", "digest", "--at", "2026-11-23T18:00")
    assert digest.stdout.startswith("[→ 王经理] 【每日汇总 · 发布会 · 11-23(周一)】")
    assert "已更新（1）：李四" in digest.stdout and "未更新（1）：王五" in digest.stdout
    reminders = run(tandem, "jobs", "run", "reminders", "--at", "2026-11-27T10:00")
    assert "即将到期" in reminders.stdout and "@王五 #2 联调" in reminders.stdout
    agenda = run(tandem, "jobs", "run", "weekly-agenda", "--at", "2026-11-27T17:00")
    assert "【周会议程 · 发布会】" in agenda.stdout and "一、上周完成（1）\n  #1 写发布稿（李四）" in agenda.stdout


def test_jobs_run_for_one_project(tandem: CliRunner) -> None:
    setup_project(tandem, chat="a", name="甲")
    setup_project(tandem, chat="b", name="乙")
    only = run(tandem, "jobs", "run", "daily-prompt", "--at", "2026-11-23T17:00", "--project", "2")
    assert only.stdout.count("今日进度更新") == 1 and "项目 2 daily-prompt" in only.stderr
    rest = run(tandem, "jobs", "run", "daily-prompt", "--at", "2026-11-23T17:00")
    assert rest.stdout.count("今日进度更新") == 1 and "项目 1 daily-prompt" in rest.stderr


def test_jobs_run_rejects_an_unknown_kind(tandem: CliRunner) -> None:
    result = tandem.invoke(main, ["jobs", "run", "coffee"])
    assert result.exit_code != 0 and "daily-prompt" in result.output


def test_two_processes_racing_post_once(
    engine: Engine, database_url: str, runtime: object, tmp_path: Path
) -> None:
    """Two `tandem jobs run` processes at the same moment on one database (SQLite or PostgreSQL)."""
    from tests.chat import ConsoleChat, FixedClock
    from tests.scheduling import sh

    chat = ConsoleChat(runtime, FixedClock(sh("2026-11-16 10:00")), chat_id="console")  # type: ignore[arg-type]
    for n in range(5):
        chat.chat_id = f"team{n}"
        chat.say(f"/项目 创建 项目{n}")
        chat.say("/任务 新增 写稿 @李四 截止:2026-11-30")
    env = {**os.environ, "TANDEM_DATABASE_URL": database_url, "TANDEM_TIMEZONE": "Asia/Shanghai"}
    command = [sys.executable, "-c", "from bot.cli import main; main()", "jobs", "run", "daily-prompt",
               "--at", "2026-11-23T17:00"]
    processes = [
        subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    with engine.connect() as connection:
        count = connection.scalar(
            select(func.count()).select_from(OutboundMessage).where(OutboundMessage.origin.like("job:daily-prompt:%"))
        )
    assert count == 5
    posted = sum(int(err.rsplit("daily-prompt posted ", 1)[1].split("；")[0]) for _, err in outputs
                 if "daily-prompt posted" in err)
    assert posted == 5
    # Each console message is printed by exactly one of the two processes.
    printed = [out.count("【今日进度更新") for out, _ in outputs]
    assert sum(printed) == 5, printed
