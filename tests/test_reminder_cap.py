"""The daily cap on reminders per person across all their projects (issue 17), over SQLite and PostgreSQL.

李四 is in three project groups with tasks and an action item due or overdue; with a cap of 2 only the two
most urgent reminders @ him that day, the rest are claimed as folded (never retried) and listed once in
each project's next daily prompt, in his block.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import Engine, func, select

from bot.db import make_engine, make_session_factory
from bot.runtime import Runtime
from models import JobRun, Project, Role
from reports.records import MemberRow
from reports.rows import DailyPrompt, FoldedReminder, OwnerTasks
from reports.text import daily_prompt
from reports.views import rebuild
from scheduler.jobs import JobRunner
from tests.chat import ConsoleChat
from tests.scheduling import posts, project_id, sh

MONDAY = "2026-11-23"


def capped(runtime: Runtime, cap: int) -> JobRunner:
    """The scheduler as `tandem serve` builds it, with TANDEM_REMINDER_DAILY_CAP=cap."""
    return replace(runtime, settings=runtime.settings.model_copy(update={"reminder_daily_cap": cap})).job_runner()


def three_projects(chat: ConsoleChat, *, merged: bool = False) -> dict[str, int]:
    """李四's work in 发布会 (g1), 官网 (g2) and 培训 (g3), as of Monday 11-23; 王五 has one overdue task in g1.
    The merged private prompt is off unless asked for: the group prompts then @ him as the cap tests read."""
    at = sh("2026-11-16 10:00")
    groups = {
        "g1": ("发布会", ["写发布稿 @李四 截止:2026-11-20", "订场地 @李四 截止:2026-11-23", "联调 @王五 截止:2026-11-20"]),
        "g2": ("官网", ["改首页 @李四 截止:2026-11-24", "修表单 @李四 截止:2026-11-19"]),
        "g3": ("培训", ["备课 @李四 截止:2026-11-23"]),
    }
    ids = {}
    for chat_id, (name, tasks) in groups.items():
        team = ConsoleChat(chat.runtime, chat.clock, chat_id=chat_id)
        team.say(f"/项目 创建 {name}", at=at)
        if not merged:
            team.say("/项目 设置 合并提醒 关", at=at)
        for task in tasks:
            team.say(f"/任务 新增 {task}", at=at)
        ids[chat_id] = project_id(chat.runtime.session_factory, chat_id)
    g3 = ConsoleChat(chat.runtime, chat.clock, chat_id="g3")
    g3.say("/行动 新增 发通知 @李四 截止:2026-11-24", at=at)
    return ids


def pings(runtime: Runtime, who: str = "李四") -> list[tuple[str, str]]:
    """(group, line) of every reminder line that @s the person."""
    found = []
    for post in posts(runtime.session_factory, "reminders"):
        found += [(post.chat_id, line.strip()) for line in post.text.splitlines() if f"@{who} " in line]
    return found


def outcomes(runtime: Runtime, user: str = "李四") -> dict[str, int]:
    with runtime.session_factory() as session:
        rows = session.execute(
            select(JobRun.outcome, func.count()).where(JobRun.user_id == user).group_by(JobRun.outcome)
        ).all()
    return {outcome: n for outcome, n in rows}


def prompt_of(runtime: Runtime, chat_id: str, day: str) -> str:
    found = [p for p in posts(runtime.session_factory, "daily-prompt") if p.chat_id == chat_id and p.origin.endswith(day)]
    assert len(found) == 1, (chat_id, day, found)
    return found[0].text


def test_the_merged_private_prompt_lists_the_folded_reminders_with_their_projects(
    chat: ConsoleChat, runtime: Runtime
) -> None:
    three_projects(chat, merged=True)
    capped(runtime, 2).run(["reminders"], sh(f"{MONDAY} 10:00"))
    capped(runtime, 2).run(["daily-prompt"], sh(f"{MONDAY} 17:00"))
    [private] = [p for p in posts(runtime.session_factory, "person-prompt") if p.to_user_id == "李四"]
    assert "另有 1 条提醒未单独发送：发布会#2 今天到期" in private.text
    assert "另有 2 条提醒未单独发送：培训#1 今天到期、培训A1 明天到期" in private.text
    assert "李四（已私信" in prompt_of(runtime, "g3", MONDAY)  # the group names him, without the @


def test_over_the_cap_reminders_are_folded_once_into_the_next_prompt(chat: ConsoleChat, runtime: Runtime) -> None:
    three_projects(chat)
    runner = capped(runtime, 2)
    first = runner.run(["reminders"], sh(f"{MONDAY} 10:00"))
    # The two most urgent across the three groups: both overdue tasks, the longest overdue first.
    assert pings(runtime) == [("g1", "@李四 #1 写发布稿 · 截止11-20(周五) ⚠逾期3天 · ⚪待开始"),
                              ("g2", "@李四 #2 修表单 · 截止11-19(周四) ⚠逾期4天 · ⚪待开始")]
    assert [g for g, _ in pings(runtime, "王五")] == ["g1"]  # his own cap: his reminder goes
    assert first.count("folded") == 4 and outcomes(runtime) == {"posted": 2, "folded": 4}
    assert any("超过每日提醒上限" in line for line in first.lines)
    # Claimed: the next runs that day send nothing again, and fold nothing again.
    for moment in ("10:30", "11:00", "15:30"):
        again = runner.run(["reminders"], sh(f"{MONDAY} {moment}"))
        assert again.count("posted") == 0 and again.count("folded") == 0
    assert len(pings(runtime)) == 2 and outcomes(runtime) == {"posted": 2, "folded": 4}

    runner.run(["daily-prompt"], sh(f"{MONDAY} 17:00"))
    assert "另有 1 条提醒未单独发送：#2 今天到期" in prompt_of(runtime, "g1", MONDAY)
    assert "另有 1 条提醒未单独发送：#1 明天到期" in prompt_of(runtime, "g2", MONDAY)
    g3 = prompt_of(runtime, "g3", MONDAY)
    assert "另有 2 条提醒未单独发送：#1 今天到期、A1 明天到期" in g3
    assert g3.index("@李四") < g3.index("另有 2 条提醒")  # in his block
    assert outcomes(runtime) == {"posted": 2, "folded-shown": 4}
    # Shown once: not in the next prompt (Tuesday's own reminders are capped afresh at 2).
    runner.run(["reminders"], sh("2026-11-24 10:00"))
    tuesday = [line for g, line in pings(runtime)[2:]]
    assert len(tuesday) == 2 and all("逾期" in line for line in tuesday)
    runner.run(["daily-prompt"], sh("2026-11-24 17:00"))
    assert "提醒未单独发送：#2 逾期1天" in prompt_of(runtime, "g1", "2026-11-24")  # Tuesday's fold, not Monday's
    assert "#2 今天到期" not in prompt_of(runtime, "g1", "2026-11-24")


def test_a_folded_reminder_of_a_task_done_meanwhile_is_not_listed(chat: ConsoleChat, runtime: Runtime) -> None:
    three_projects(chat)
    runner = capped(runtime, 2)
    runner.run(["reminders"], sh(f"{MONDAY} 10:00"))
    g1 = ConsoleChat(runtime, chat.clock, chat_id="g1")
    g1.say("#2 完成", name="李四", at=sh(f"{MONDAY} 11:00"))
    runner.run(["daily-prompt"], sh(f"{MONDAY} 17:00"))
    assert "未单独发送" not in prompt_of(runtime, "g1", MONDAY)
    assert "另有 2 条提醒未单独发送" in prompt_of(runtime, "g3", MONDAY)


def test_cap_zero_sends_every_reminder(chat: ConsoleChat, runtime: Runtime) -> None:
    three_projects(chat)
    report = capped(runtime, 0).run(["reminders"], sh(f"{MONDAY} 10:00"))
    assert len(pings(runtime)) == 6 and report.count("folded") == 0
    assert outcomes(runtime) == {"posted": 6}  # recorded per person all the same


def test_a_project_with_the_cap_off_sends_all_its_reminders_and_they_count(chat: ConsoleChat, runtime: Runtime) -> None:
    three_projects(chat)
    g3 = ConsoleChat(runtime, chat.clock, chat_id="g3")
    assert "只有" in g3.say("/项目 设置 提醒上限 关", name="李四", at=sh("2026-11-20 10:00"))
    assert "已关闭本项目的每日提醒上限" in g3.say("/项目 设置 reminder-cap off", at=sh("2026-11-20 10:00"))
    assert "提醒上限：关" in g3.say("/项目 设置", at=sh("2026-11-20 10:01"))
    assert "开 或 关" in g3.say("/项目 设置 提醒上限 也许", at=sh("2026-11-20 10:02"))
    capped(runtime, 2).run(["reminders"], sh(f"{MONDAY} 10:00"))
    # g3's two reminders go regardless and use up 李四's 2: the other groups' are all folded.
    assert sorted(g for g, _ in pings(runtime)) == ["g3", "g3"]
    assert outcomes(runtime) == {"posted": 2, "folded": 4}
    assert "已开启每日提醒上限" in g3.say("/项目 设置 提醒上限 开", at=sh(f"{MONDAY} 11:00"))
    with runtime.session_factory() as session:
        assert session.scalar(select(Project.reminder_cap).where(Project.chat_id == "g3")) is True


def test_escalations_and_leave_cover_are_not_capped(chat: ConsoleChat, runtime: Runtime) -> None:
    three_projects(chat)
    g1 = ConsoleChat(runtime, chat.clock, chat_id="g1")
    g1.say("#3 阻塞 等接口", name="王五", at=sh("2026-11-19 10:00"))
    capped(runtime, 1).run(["reminders"], sh(f"{MONDAY} 10:00"))
    texts = [p.text for p in posts(runtime.session_factory, "reminders") if p.chat_id == "g1"]
    assert any("升级提醒" in t and "#3 联调" in t for t in texts)
    assert len(pings(runtime)) == 1 and len(pings(runtime, "王五")) == 1


def test_the_prompt_card_keeps_the_folded_line_when_shown_again(chat: ConsoleChat, runtime: Runtime) -> None:
    three_projects(chat)
    runner = capped(runtime, 2)
    runner.run(["reminders"], sh(f"{MONDAY} 10:00"))
    runner.run(["daily-prompt"], sh(f"{MONDAY} 17:00"))
    [post] = [p for p in posts(runtime.session_factory, "daily-prompt") if p.chat_id == "g3"]
    assert post.reply.view is not None
    with runtime.session_factory() as session:
        project = session.get(Project, project_id(runtime.session_factory, "g3"))
        assert project is not None
        again = rebuild(session, project, post.reply.view, sh(f"{MONDAY} 17:05"))
    assert again is not None and "另有 2 条提醒未单独发送：#1 今天到期、A1 明天到期" in again.plain_text()


def test_an_owner_with_only_folded_reminders_gets_a_block(chat: ConsoleChat, runtime: Runtime) -> None:
    """赵六 owns no open task in 培训, only action items whose reminders were folded: his block is the line."""
    g3 = ConsoleChat(runtime, chat.clock, chat_id="g3")
    g3.say("/项目 创建 培训", at=sh("2026-11-16 10:00"))
    g3.say("/任务 新增 备课 @李四 截止:2026-11-30", at=sh("2026-11-16 10:00"))
    for content, due in (("发通知", "11-24"), ("订教室", "11-23"), ("印材料", "11-20")):
        g3.say(f"/行动 新增 {content} @赵六 截止:2026-{due}", at=sh("2026-11-16 10:00"))
    runner = capped(runtime, 1)
    runner.run(["reminders"], sh(f"{MONDAY} 10:00"))
    assert [line for _, line in pings(runtime, "赵六")] == ["@赵六 A3 印材料 · 截止11-20(周五) ⚠逾期3天"]
    runner.run(["daily-prompt"], sh(f"{MONDAY} 17:00"))
    text = prompt_of(runtime, "g3", MONDAY)
    assert "@赵六\n  另有 2 条提醒未单独发送：A2 今天到期、A1 明天到期" in text
    assert "@李四（1 项）" in text


def test_the_folded_line_stays_one_short_line() -> None:

    owner = MemberRow(1, 1, "li", "李四", Role.MEMBER)
    items = tuple(FoldedReminder(ref, due, "remind-action-due") for ref, due in
                  (("A3", date(2026, 11, 20)), ("A4", date(2026, 11, 23)), ("A1", date(2026, 11, 24)),
                   ("A2", date(2026, 11, 30)), ("A5", date(2026, 12, 1))))
    reply = daily_prompt(DailyPrompt(date(2026, 11, 23), (OwnerTasks(owner, (), items),), 0), project_name="培训")
    assert "另有 5 条提醒未单独发送：A3 逾期3天、A4 今天到期、A1 明天到期、A2 11-30到期 等" in reply.plain_text()


@pytest.mark.parametrize("cap", [2, 5])
def test_racing_schedulers_never_exceed_the_cap(chat: ConsoleChat, runtime: Runtime, database_url: str, cap: int) -> None:
    """Four schedulers at once, each on other projects of 李四's (so each reads "nothing sent yet" unless
    the cap's decisions are serialised), then all of them on all the projects."""
    for n in range(12):
        team = ConsoleChat(runtime, chat.clock, chat_id=f"race{n}")
        team.say(f"/项目 创建 项目{n}", at=sh("2026-11-16 10:00"))
        team.say("/任务 新增 写稿 @李四 截止:2026-11-20", at=sh("2026-11-16 10:00"))
    with runtime.session_factory() as session:
        ids = list(session.scalars(select(Project.id).order_by(Project.id)))
    engines: list[Engine] = [make_engine(database_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def scheduler(n: int, engine: Engine) -> None:
        runner = JobRunner(make_session_factory(engine), clock=runtime.clock, batch=3, reminder_cap=cap)
        try:
            for moment, projects in (("10:00", ids[n::4]), ("10:30", ids)):
                barrier.wait(timeout=30)
                assert runner.run(["reminders"], sh(f"{MONDAY} {moment}"), project_ids=projects).errors == 0
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=scheduler, args=(n, engine)) for n, engine in enumerate(engines)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for engine in engines:
        engine.dispose()
    assert not errors, errors
    assert len(pings(runtime)) == cap
    assert outcomes(runtime) == {"posted": cap, "folded": 12 - cap}
