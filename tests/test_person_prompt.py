"""One prompt per person across projects: 王五 is in three console projects (different prompt times, one
with 合并提醒 关), gets one private message at the earliest prompt time, is named without @ in the group
prompts it covers, and answers it privately (`#N` resolved to the right project, asked back when
ambiguous). Over the 2026 calendar: 12-02 (a Wednesday) and 国庆, where one project is off."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.runtime import Runtime
from models import JobRun, Project, Task, TaskStatus
from scheduler.jobs import JobRunner
from tests.chat import ConsoleChat, FixedClock
from tests.scheduling import Posted, posts, sh

CREATED = "2026-09-14 10:00"


@pytest.fixture
def runner(runtime: Runtime) -> JobRunner:
    return runtime.job_runner()


def group(runtime: Runtime, clock: FixedClock, chat_id: str) -> ConsoleChat:
    return ConsoleChat(runtime, clock, chat_id=chat_id)


@pytest.fixture
def three(runtime: Runtime, clock: FixedClock) -> dict[str, ConsoleChat]:
    """g1 新品发布会 (prompt 09:30): 王五 #1 #2 #3, 李四 #4; g2 官网改版 (09:00): 王五 #1, 赵六 #2;
    g3 年会筹备 (11:00, 合并提醒 关): 王五 #1."""
    at = sh(CREATED)
    chats = {chat_id: group(runtime, clock, chat_id) for chat_id in ("g1", "g2", "g3")}
    g1, g2, g3 = chats["g1"], chats["g2"], chats["g3"]
    g1.say("/项目 创建 新品发布会", at=at)
    g1.say("/项目 设置 日报 09:30", at=at)
    g1.say("/任务 新增 写发布稿 @王五 截止:2026-11-30", at=at)  # overdue on 12-02: first
    g1.say("/任务 新增 订场地 @王五 截止:2026-12-20", at=at)
    g1.say("/任务 新增 彩排 @王五 截止:2026-12-25", at=at)
    g1.say("/任务 新增 媒体邀约 @李四 截止:2026-12-25", at=at)
    g2.say("/项目 创建 官网改版", at=at)
    g2.say("/项目 设置 日报 09:00", at=at)
    g2.say("/任务 新增 首页设计 @王五 截止:2026-12-10", at=at)
    g2.say("/任务 新增 后端接口 @赵六 截止:2026-12-10", at=at)
    g3.say("/项目 创建 年会筹备", at=at)
    g3.say("/项目 设置 日报 11:00", at=at)
    g3.say("/任务 新增 节目单 @王五 截止:2026-12-28", at=at)
    assert "已关闭合并提醒" in g3.say("/项目 设置 合并提醒 关", at=at)
    return chats


def task(runtime: Runtime, project: str, number: int) -> Task:
    with runtime.session_factory() as session:
        found = session.scalar(
            select(Task).join(Project, Project.id == Task.project_id).where(Project.name == project, Task.number == number)
        )
        assert found is not None
        return found


def person_prompts(runtime: Runtime) -> list[Posted]:
    return posts(runtime.session_factory, "person-prompt")


def group_prompt(runtime: Runtime, chat_id: str) -> Posted:
    [prompt] = [p for p in posts(runtime.session_factory, "daily-prompt") if p.chat_id == chat_id]
    return prompt


def test_one_merged_private_prompt_at_the_earliest_time_and_no_group_ping(
    three: dict[str, ConsoleChat], runtime: Runtime, runner: JobRunner
) -> None:
    assert runner.run(["daily-prompt"], sh("2026-12-02 08:59")).count("posted") == 0
    first = runner.run(["daily-prompt"], sh("2026-12-02 09:00"))  # 官网改版's prompt time, the earliest
    assert first.count("posted", "person-prompt") == 1
    [merged] = person_prompts(runtime)
    assert merged.to_user_id == "王五" and merged.reply.title == "今日进度 · 我的任务 · 12-02(周三)"
    text = merged.text
    # One section per project, in the order of their prompt times; 年会筹备 (合并提醒 关) is not in it.
    assert text.index("官网改版（1 项）") < text.index("新品发布会（3 项）") and "年会筹备" not in text
    assert "官网改版#1 首页设计" in text and "新品发布会#1 写发布稿" in text and "⚠逾期2天" in text
    assert text.index("新品发布会#1") < text.index("新品发布会#2")  # overdue first
    assert "媒体邀约" not in text and "后端接口" not in text  # only their own tasks
    commands = [b.command for s in merged.reply.sections for b in s.buttons]
    assert "/任务 新品发布会#2 完成" in commands and "/任务 官网改版#1 完成" in commands
    # 官网改版's group prompt (same run) lists 王五 by name, without the @; 赵六 is still @-ed.
    g2 = group_prompt(runtime, "g2")
    assert "王五（已私信，1 项）" in g2.text and "@王五" not in g2.text
    assert [m.user_id for m in g2.reply.mentions] == ["赵六"]

    again = runner.run(["daily-prompt"], sh("2026-12-02 09:10"))  # a rerun, another replica
    assert again.count("posted", "person-prompt") == 0 and again.count("already", "person-prompt") == 0
    assert len(person_prompts(runtime)) == 1
    assert runtime.job_runner().run(["daily-prompt"], sh("2026-12-02 09:00")).count("posted", "person-prompt") == 0

    runner.run(["daily-prompt"], sh("2026-12-02 09:30"))  # 新品发布会: covered, 李四 @-ed
    g1 = group_prompt(runtime, "g1")
    assert "王五（已私信，3 项）" in g1.text and "@王五" not in g1.text and "@李四" in g1.text
    assert [m.user_id for m in g1.reply.mentions] == ["李四"]
    runner.run(["daily-prompt"], sh("2026-12-02 11:00"))  # 年会筹备 has 合并提醒 关: @-ed as ever
    assert "@王五" in group_prompt(runtime, "g3").text
    assert len(person_prompts(runtime)) == 1

    # The next day the same again: one more, keyed by the day.
    runner.run(["daily-prompt"], sh("2026-12-03 09:00"))
    assert [p.origin.rsplit(":", 1)[0].rsplit(":", 1)[1] for p in person_prompts(runtime)] == ["2026-12-02", "2026-12-03"]


def test_the_group_nudge_names_them_without_the_at(three: dict[str, ConsoleChat], runtime: Runtime, runner: JobRunner) -> None:
    three["g1"].say("/项目 设置 催办 17:30", at=sh("2026-12-01 10:00"))
    runner.run(["daily-prompt"], sh("2026-12-02 09:00"))
    runner.run(["daily-prompt"], sh("2026-12-02 09:30"))
    runner.run(["daily-prompt"], sh("2026-12-02 17:30"))
    [nudge] = posts(runtime.session_factory, "nudge")
    assert "王五（已私信） #1、#2、#3" in nudge.text and "@李四 #4" in nudge.text
    assert [m.user_id for m in nudge.reply.mentions] == ["李四"]


def test_one_project_alone_is_no_merged_prompt(three: dict[str, ConsoleChat], runtime: Runtime, runner: JobRunner) -> None:
    three["g2"].say("/任务 #1 完成", name="王五", at=sh("2026-12-01 10:00"))  # nothing open in 官网改版 any more
    runner.run(["daily-prompt"], sh("2026-12-02 09:30"))
    assert person_prompts(runtime) == []
    assert "@王五（3 项）" in group_prompt(runtime, "g1").text


def test_over_the_national_day_only_the_projects_working_that_day_count(
    three: dict[str, ConsoleChat], runtime: Runtime, runner: JobRunner
) -> None:
    g1, g3 = three["g1"], three["g3"]
    g3.say("/项目 设置 合并提醒 开", at=sh("2026-09-20 10:00"))
    g1.say("/项目 补班 2026-10-05~2026-10-06", at=sh("2026-09-20 10:00"))  # a launch: they work in 国庆
    g3.say("/项目 补班 2026-10-05", at=sh("2026-09-20 10:00"))
    # 10-05: 新品发布会 (09:30) and 年会筹备 (11:00) work; 官网改版 is off for 国庆.
    runner.run(["daily-prompt"], sh("2026-10-05 09:00"))
    assert person_prompts(runtime) == []
    runner.run(["daily-prompt"], sh("2026-10-05 09:30"))
    [merged] = person_prompts(runtime)
    assert merged.reply.title == "今日进度 · 我的任务 · 10-05(周一)"
    assert "新品发布会（3 项）" in merged.text and "年会筹备（1 项）" in merged.text and "官网改版" not in merged.text
    runner.run(["daily-prompt"], sh("2026-10-05 11:00"))
    assert "王五（已私信，1 项）" in group_prompt(runtime, "g3").text
    # 10-06: only 新品发布会 works: its own group prompt @-mentions 王五, no private message.
    runner.run(["daily-prompt"], sh("2026-10-06 09:30"))
    assert len(person_prompts(runtime)) == 1
    [day2] = [p for p in posts(runtime.session_factory, "daily-prompt") if p.origin.endswith("2026-10-06")]
    assert "@王五（3 项）" in day2.text
    # 10-09 (a workday for everyone again): all three.
    runner.run(["daily-prompt"], sh("2026-10-09 09:00"))
    assert all(name in person_prompts(runtime)[-1].text for name in ("新品发布会", "官网改版", "年会筹备"))


def test_a_missed_merged_prompt_is_skipped_once(three: dict[str, ConsoleChat], runtime: Runtime, runner: JobRunner) -> None:
    late = runner.run(["daily-prompt"], sh("2026-12-02 10:29"))  # 09:00 + the hour's grace is over
    assert late.count("skipped", "person-prompt") == 1 and person_prompts(runtime) == []
    assert runner.run(["daily-prompt"], sh("2026-12-02 10:31")).count("skipped", "person-prompt") == 0
    with runtime.session_factory() as session:
        [row] = session.scalars(select(JobRun).where(JobRun.job == "person-prompt")).all()
        assert row.outcome == "skipped" and row.slot == "2026-12-02:王五"
    assert "@王五" in group_prompt(runtime, "g1").text  # nobody told them privately: the group @s them


# ---------------------------------------------------------------------------- answering privately


def test_answering_the_merged_prompt_privately(three: dict[str, ConsoleChat], runtime: Runtime, runner: JobRunner) -> None:
    g1 = three["g1"]
    runner.run(["daily-prompt"], sh("2026-12-02 09:00"))
    at = sh("2026-12-02 10:00")
    asked = g1.private("#1 完成", name="王五", at=at)  # #1 is in all three of their projects
    assert "#1 在你的 3 个项目里都有" in asked and "没有改动" in asked
    assert "新品发布会#1 完成" in asked and "官网改版#1 完成" in asked and "年会筹备#1 完成" in asked
    assert all(task(runtime, p, 1).status == TaskStatus.TODO for p in ("新品发布会", "官网改版", "年会筹备"))

    done = g1.private("新品发布会#1 完成", name="王五", at=at)
    assert done.startswith("【新品发布会】") and task(runtime, "新品发布会", 1).status == TaskStatus.DONE
    assert task(runtime, "官网改版", 1).status == TaskStatus.TODO
    # A unique prefix or substring of the project's name is enough; so is a bare id only one project has.
    assert g1.private("官网#1 进度 50%", name="王五", at=at).startswith("【官网改版】")
    assert task(runtime, "官网改版", 1).progress == 50
    assert g1.private("#3 开始", name="王五", at=at).startswith("【新品发布会】")
    assert task(runtime, "新品发布会", 3).status == TaskStatus.IN_PROGRESS
    # The merged prompt's buttons carry the qualified id.
    assert "【新品发布会】" in g1.private("/任务 新品发布会#2 阻塞 等场地确认", name="王五", at=at)
    blocked = task(runtime, "新品发布会", 2)
    assert blocked.status == TaskStatus.BLOCKED and blocked.blocked_reason == "等场地确认"
    # The same permissions as in the group: #2 of 官网改版 is 赵六's.
    refused = g1.private("官网改版#2 完成", name="王五", at=at)
    assert "只有负责人或 PM 可以更新" in refused and task(runtime, "官网改版", 2).status == TaskStatus.TODO
    # Undo in the group takes back what was done privately (the same history).
    assert "撤销" in g1.say("/撤销", name="王五", at=sh("2026-12-02 10:05"))
    assert task(runtime, "新品发布会", 2).status == TaskStatus.TODO


def test_a_numbered_choice_of_the_merged_prompt_is_pressed_in_the_private_chat(
    three: dict[str, ConsoleChat], runtime: Runtime, runner: JobRunner
) -> None:
    """The console prints the merged prompt's buttons as numbered choices; `1` in the private chat presses
    the first: 官网改版#1's 开始 (its section comes first, the earliest prompt)."""
    runner.run(["daily-prompt"], sh("2026-12-02 09:00"))
    started = three["g1"].private("1", name="王五", at=sh("2026-12-02 10:00"))
    assert started.startswith("【官网改版】") and task(runtime, "官网改版", 1).status == TaskStatus.IN_PROGRESS
    assert task(runtime, "新品发布会", 1).status == TaskStatus.TODO


def test_private_messages_that_are_not_task_updates(three: dict[str, ConsoleChat]) -> None:
    g1 = three["g1"]
    both = g1.private("新品发布会#2 完成 官网改版#1 完成", name="王五")
    assert "一条消息只更新一个项目" in both and task_status_all_open(g1)
    nowhere = g1.private("xyz#1 完成", name="王五")
    assert "你的项目里没有“xyz”" in nowhere and "新品发布会#12" in nowhere and task_status_all_open(g1)
    unknown = g1.private("发布#1 完成", name="王五")  # “发布” is in one name only: that project
    assert unknown.startswith("【新品发布会】")
    help_text = g1.private("/风险 列表", name="王五")
    assert "私信里可以直接更新自己的任务" in help_text and "你的项目：新品发布会、官网改版、年会筹备" in help_text
    assert "项目在群里管理" in g1.private("#1 完成", name="路人")  # in no project: the usual private help
    assert "私信里可以" in g1.private("/任务 新增 写周报", name="王五")


def task_status_all_open(chat: ConsoleChat) -> bool:
    with chat.runtime.session_factory() as session:
        return all(t.status != TaskStatus.DONE for t in session.scalars(select(Task)))


def test_the_setting_shows_and_is_the_pms(three: dict[str, ConsoleChat]) -> None:
    g1 = three["g1"]
    assert "合并提醒：开" in g1.say("/项目 设置")
    assert "只有项目经理" in g1.say("/项目 设置 合并提醒 关", name="王五")
    assert "已关闭合并提醒" in g1.say("/project set merged-prompt off")
    assert "合并提醒：关" in g1.say("/项目 设置")
    assert "看不懂" in g1.say("/项目 设置 合并提醒 也许")


def test_a_yes_in_the_private_chat_answers_the_question_asked_there(three: dict[str, ConsoleChat], runtime: Runtime) -> None:
    g1 = three["g1"]
    at = sh("2026-12-02 10:00")
    asked = g1.private("官网改版#1 应该完成了", name="王五", at=at)
    assert asked == "【官网改版】是要把 #1 标记为已完成吗？回复“是”确认，回复其他内容则不改动"
    assert task(runtime, "官网改版", 1).status == TaskStatus.TODO
    assert g1.private("是", name="王五", at=sh("2026-12-02 10:01")).startswith("【官网改版】")
    assert task(runtime, "官网改版", 1).status == TaskStatus.DONE
    assert task(runtime, "新品发布会", 1).status == TaskStatus.TODO and task(runtime, "年会筹备", 1).status == TaskStatus.TODO
    assert "私信里可以" in g1.private("是", name="王五", at=sh("2026-12-02 10:02"))  # nothing asked any more


def test_the_earliest_prompt_time_is_taken_across_time_zones() -> None:
    """发布会 prompts at 17:00 Shanghai, the Berlin project at 09:00 Berlin (16:00 Shanghai in winter)."""
    from datetime import UTC, datetime, time, timedelta

    from models.calendar import WorkCalendar, national_calendar
    from scheduler.person_prompt import plan

    created = datetime(2026, 9, 1, tzinfo=UTC)
    shanghai = Project(id=1, timezone="Asia/Shanghai", daily_prompt_time=time(17, 0), created_at=created)
    berlin = Project(id=2, timezone="Europe/Berlin", daily_prompt_time=time(9, 0), created_at=created)
    calendars = {1: WorkCalendar(national_calendar()), 2: WorkCalendar(national_calendar())}
    people = {("feishu", "ou_wu"): [shanghai, berlin]}
    due, missed = plan(people, calendars, sh("2026-12-02 15:59"), timedelta(hours=1))
    assert due == [] and [m.day.isoformat() for m in missed] == ["2026-12-01"]  # yesterday's: looked back a day
    [today], _ = plan(people, calendars, sh("2026-12-02 16:00"), timedelta(hours=1))
    assert today.slot == "2026-12-02:ou_wu" and today.project_ids == (2, 1) and today.due_at == sh("2026-12-02 16:00")
    # 10-02 is 国庆 on the national calendar both use: neither counts, no merged prompt.
    assert plan(people, calendars, sh("2026-10-02 16:00"), timedelta(hours=1))[0] == []
