"""复盘 (issue 15): anyone adds entries, also on the closed project; the PM's 纪要 groups them with who said
what; improvements become action items with owners, at once or afterwards."""

from __future__ import annotations

from sqlalchemy import select

from models import ActionItem, RetroEntry
from tests.chat import ConsoleChat
from tests.handlers.conftest import PM
from tests.scheduling import sh


def closed(project: ConsoleChat) -> ConsoleChat:
    project.say("/任务 新增 写发布稿 @李四 截止:2026-12-04", name=PM)
    assert "已结项" in project.say("/项目 结项 确认", name=PM, at=sh("2026-12-01 18:00"))
    return project


def test_entries_on_the_closed_project_and_the_minutes_group_them_with_who_said_what(project: ConsoleChat) -> None:
    chat = closed(project)
    at = sh("2026-12-02 10:00")
    assert "已记入复盘（做得好）：方案评审很快" in chat.say("/复盘 好 方案评审很快", name="李四", at=at)
    added = chat.say("/复盘 改进 场地要提前两周订 @张三 截止:2026-12-10", name=PM, at=at)
    assert "已记入复盘（待改进）" in added and "已转为行动项 A1，负责人 @张三 · 截止 12-10(周四)" in added
    assert "/复盘 行动 2 @负责人" in chat.say("/retro improve 物料清单定得太晚", name="张三", at=at)
    assert "已记入复盘（可复用）：报名表模板" in chat.say("/复盘 复用 报名表模板", name="赵六", at=at)
    assert "只有项目经理（PM）可以发复盘纪要" in chat.say("/复盘 纪要", name="李四", at=at)
    assert "成员只能把改进项派给自己" in chat.say("/复盘 行动 2 @赵六", name="张三", at=at)
    assert "没有第 5 条改进" in chat.say("/复盘 行动 5 @赵六", name=PM, at=at)
    assert "已转为行动项 A2，负责人 @赵六" in chat.say("/复盘 行动 2 @赵六", name=PM, at=at)
    assert "已经是行动项 A2" in chat.say("/复盘 行动 2 @李四", name=PM, at=at)
    minutes = chat.say("/复盘 纪要", name=PM, at=sh("2026-12-03 10:00"))
    assert "【复盘纪要：新品发布会】" in minutes and "共 4 条，4 人参与。" in minutes
    good, improve, reuse = minutes.index("做得好（1）"), minutes.index("待改进（2）"), minutes.index("可复用（1）")
    assert good < improve < reuse
    assert "· 方案评审很快（李四）" in minutes
    assert "1. 场地要提前两周订（王经理） → 行动项 A1（张三，截止 12-10(周四)）" in minutes
    assert "2. 物料清单定得太晚（张三） → 行动项 A2（赵六）" in minutes
    assert "· 报名表模板（赵六）" in minutes and "还没有负责人" not in minutes
    with chat.runtime.session_factory() as session:
        actions = session.scalars(select(ActionItem).order_by(ActionItem.number)).all()
        assert [(a.content, a.origin) for a in actions] == [("场地要提前两周订", "复盘"), ("物料清单定得太晚", "复盘")]
        assert len(session.scalars(select(RetroEntry)).all()) == 4


def test_bad_input_is_refused_with_the_usage_and_nothing_stored(project: ConsoleChat) -> None:
    assert "缺少复盘内容" in (reply := project.say("/复盘 好", name="李四")) and "/复盘 好 <内容>" in reply
    assert "还没有复盘内容" in project.say("/复盘 纪要", name=PM)
    assert "请写改进的序号" in project.say("/复盘 行动 @李四", name=PM)
    assert "/复盘 没有“随便”这个子指令" in project.say("/复盘 随便 说说", name=PM)
    with project.runtime.session_factory() as session:
        assert session.scalars(select(RetroEntry)).all() == []


def test_a_pending_improvement_is_listed_in_the_minutes(project: ConsoleChat) -> None:
    project.say("/复盘 改进 周会太长", name="张三")
    minutes = project.say("/复盘 纪要", name=PM)
    assert "1. 周会太长（张三）" in minutes and "改进 1 还没有负责人，转为行动项：/复盘 行动 <改进序号> @负责人" in minutes


def test_the_retrospective_stays_with_the_closed_project_after_a_new_one_starts(project: ConsoleChat) -> None:
    chat = closed(project)
    chat.say("/复盘 复用 报名表模板", name="赵六", at=sh("2026-12-02 10:00"))
    assert "已创建项目" in chat.say("/项目 创建 下一个项目", name=PM, at=sh("2026-12-03 10:00"))
    history = chat.say("/项目 历史 新品发布会", name=PM, at=sh("2026-12-03 10:05"))
    assert "【项目总结：新品发布会】" in history and "按时完成率" in history
    assert "复盘（1 条）" in history and "· 报名表模板（赵六）" in history
    assert "还没有复盘内容" in chat.say("/复盘 纪要", name=PM)  # the new project's own retrospective
