"""The charter (issue 15): set in chat, shown by /项目 信息, posted by /项目 章程 for everyone to acknowledge;
the sponsor (发起人) is @-ed in escalations."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import select

from bot.runtime import Runtime
from models import CharterAck, Member, Project
from tests.chat import ConsoleChat
from tests.handlers.conftest import PM
from tests.scheduling import posts, sh

Unchanged = Callable[[ConsoleChat], AbstractContextManager[None]]


def project_row(chat: ConsoleChat) -> Project:
    with chat.runtime.session_factory() as session:
        found = session.scalars(select(Project)).one()
        session.expunge(found)
        return found


def set_charter(chat: ConsoleChat) -> None:
    for line in (
        "/项目 设置 编号 XM-007", "/项目 设置 发起部门 运营部", "/项目 设置 发起人 @钱总", "/项目 设置 预算 48.5万",
        "/项目 设置 目标 报名人数达到 800；满意度 ≥ 90%", "/项目 设置 成果 发布会一场、新闻稿三篇",
        "/项目 设置 干系人 市场部、媒体合作方",
    ):
        chat.say(line, name=PM)


def test_the_charter_is_set_in_chat_and_shown_by_project_info(project: ConsoleChat) -> None:
    set_charter(project)
    row = project_row(project)
    assert (row.code, row.sponsor_department, row.budget) == ("XM-007", "运营部", "48.5万")
    assert row.goals == ["报名人数达到 800", "满意度 ≥ 90%"] and row.stakeholders == "市场部、媒体合作方"
    info = project.say("/项目 信息", name="张三")
    for shown in ("项目编号：XM-007", "发起部门：运营部 · 发起人：钱总", "预算：48.5万", "  1. 报名人数达到 800",
                  "  2. 满意度 ≥ 90%", "预期成果：发布会一场、新闻稿三篇", "关键干系人：市场部、媒体合作方",
                  "沟通机制：日报 每个工作日 17:00 · 周会 每周一 09:00"):
        assert shown in info, shown
    project.say("/项目 设置 日报 16:30", name=PM)  # the rhythm settings are the charter's communication rules
    assert "日报 每个工作日 16:30" in project.say("/项目 章程", name=PM)
    with project.runtime.session_factory() as session:
        sponsor = session.scalars(select(Member).where(Member.is_sponsor)).one()
        assert sponsor.name == "钱总"


def test_bad_charter_values_are_refused_with_the_usage_and_nothing_changes(project: ConsoleChat, unchanged: Unchanged) -> None:
    set_charter(project)
    with unchanged(project):
        too_many = project.say("/项目 设置 目标 一；二；三；四", name=PM)
        assert "目标最多 3 个（收到 4 个）" in too_many and "用法：" in too_many
        assert "不像预算金额" in project.say("/项目 设置 预算 很多钱", name=PM)
        assert "发起人只能有一位" in project.say("/项目 设置 发起人 @李四 @张三", name=PM)
        assert "只有项目经理（PM）可以修改项目设置" in project.say("/项目 设置 编号 X-1", name="李四")
        assert "看不懂" in project.say("/项目 设置 变更审批 大家", name=PM)
    assert project_row(project).goals == ["报名人数达到 800", "满意度 ≥ 90%"]


def test_members_acknowledge_the_charter_and_the_pm_sees_who_has_not(project: ConsoleChat) -> None:
    set_charter(project)
    posted = project.say("/项目 章程", name=PM)
    assert "【项目章程：新品发布会】" in posted and "已确认（0/4）：无" in posted
    assert "未确认（4）：李四、赵六、张三、钱总" in posted and "@李四 @赵六 @张三 @钱总 请阅读后回复：/项目 章程 确认" in posted
    assert "李四 已确认项目章程（1/4 人已确认）" in project.say("/项目 章程 确认", name="李四")
    assert "已经确认过" in project.say("/项目 章程 confirm", name="李四")
    project.say("/项目 章程 确认", name="张三")
    mine = project.say("/项目 章程", name="赵六")
    assert "请阅读后回复：/项目 章程 确认" in mine and "未确认" not in mine  # only the PM sees the list
    seen = project.say("/项目 章程", name=PM)
    assert "已确认（2/4）：李四、张三" in seen and "未确认（2）：赵六、钱总" in seen
    for who in ("赵六", "钱总"):
        project.say("/project charter confirm", name=who)
    assert "已确认（4/4）" in project.say("/项目 章程", name=PM)
    # A change to the charter asks again: an acknowledgement counts for the version it confirmed.
    project.say("/项目 设置 预算 52万", name=PM)
    again = project.say("/项目 章程", name=PM)
    assert "已确认（0/4）" in again and "李四（确认的是旧版）" in again
    with project.runtime.session_factory() as session:
        assert len(session.scalars(select(CharterAck)).all()) == 4


def test_the_sponsor_is_at_mentioned_in_escalations(chat: ConsoleChat, runtime: Runtime) -> None:
    at = sh("2026-11-16 10:00")
    chat.say("/项目 创建 发布会", at=at)
    chat.say("/任务 新增 联调接口 @王五 截止:2026-12-31", at=at)
    chat.say("/项目 设置 发起人 @钱总", at=at)
    chat.say("#1 阻塞 等第三方接口", name="王五", at=sh("2026-11-20 15:00"))
    runner = runtime.job_runner()
    runner.run(["reminders"], sh("2026-11-23 15:30"))
    runner.run(["reminders"], sh("2026-11-23 16:00"))
    [escalation] = [p for p in posts(runtime.session_factory, "reminders") if "升级提醒" in p.text]
    assert "@王经理 @钱总" in escalation.text and "#1 联调接口" in escalation.text
