"""One console project from 立项 to 结项 (issue 15): the charter set and acknowledged, a change refused then
approved (by the PM and the sponsor) and applied, deliverables accepted, one rejected then accepted, the
close-out refused while one is unaccepted and then allowed."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from models import Project, ProjectStatus, Task
from tests.chat import ConsoleChat
from tests.handlers.conftest import PM


def test_from_charter_to_close_out(project: ConsoleChat) -> None:
    say = project.say
    for line in ("/项目 设置 编号 XM-015", "/项目 设置 发起人 @钱总", "/项目 设置 预算 36万",
                 "/项目 设置 目标 到场 300 人；媒体报道 5 篇", "/项目 设置 变更审批 发起人"):
        say(line, name=PM)
    say("/项目 章程", name=PM)
    for who in ("李四", "赵六", "张三", "钱总"):
        say("/项目 章程 确认", name=who)
    assert "已确认（4/4）" in say("/项目 章程", name=PM) and "未确认（0）：无" in say("/项目 章程", name=PM)

    say("/任务 新增 写发布稿 @李四 截止:2026-12-04 交付物:发布稿", name=PM)
    say("/任务 新增 订场地 @张三 截止:2026-12-10 交付物:场地合同", name=PM)
    say("/变更 新增 #2 截止:12-17 原因:场地档期 影响:彩排推迟一周", name="张三")
    say("/变更 驳回 C1 原因:彩排不能推迟", name="钱总")  # the sponsor may refuse
    say("/变更 新增 #2 截止:12-14 原因:场地档期，改到周一", name="张三")
    say("/变更 批准 C2", name=PM)
    with project.runtime.session_factory() as session:
        assert session.scalars(select(Task.due_date).where(Task.number == 2)).one() == date(2026, 12, 10)
    say("/变更 批准 C2", name="钱总")
    with project.runtime.session_factory() as session:
        assert session.scalars(select(Task.due_date).where(Task.number == 2)).one() == date(2026, 12, 14)

    later = project.clock() + timedelta(days=20)
    say("#1 完成", name="李四", at=later)
    say("#2 完成", name="张三", at=later)
    say("/验收 #1 @钱总", name=PM, at=later)
    say("/验收 #2 @钱总 研发部", name=PM, at=later)
    say("/验收 通过 #1", name="钱总", at=later)
    say("/验收 驳回 #2 原因:合同缺盖章", name="钱总", at=later)
    assert "暂不能结项" in say("/项目 结项 确认", name=PM, at=later)
    say("/验收 #2 @钱总 研发部", name="张三", at=later)
    say("/验收 通过 #2 已补盖章", name="钱总", at=later)
    say("/验收 通过 #2", name="赵六", at=later)
    assert "成果验收（已通过 2，未通过 0）" in say("/验收 列表", name=PM, at=later)
    closed = say("/项目 结项 确认", name=PM, at=later)
    assert "已结项" in closed and "强制结项" not in closed
    with project.runtime.session_factory() as session:
        assert session.scalars(select(Project.status)).one() == ProjectStatus.CLOSED
    assert "C2 已批准并执行" in say("/变更 列表", name=PM, at=later)  # stays readable after the close-out
