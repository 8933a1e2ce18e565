"""A group sees and changes only its own project, whatever ids it sends."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import select

from models import Project, Task, TaskStatus
from tests.chat import ConsoleChat
from tests.handlers.conftest import PM, query

Unchanged = Callable[[ConsoleChat], AbstractContextManager[None]]


def test_group_without_project_can_do_nothing(project: ConsoleChat, other: ConsoleChat, unchanged: Unchanged) -> None:
    project.say("/任务 新增 写接口 @李四", name=PM)
    project.say("/风险 新增 接口不稳定", name=PM)
    project.say("/行动 新增 订酒店 @李四 截止:周五", name=PM)
    with unchanged(project):
        for text in ("/任务 #1", "#1 完成", "/任务 列表", "/风险 R1", "/风险 关闭 R1", "/行动 完成 A1", "A1 完成",
                     "/决议 D1", "/成员 列表", "/任务 修改 #1 截止:周五"):
            reply = other.say(text, name=PM)
            assert "本群还没有项目" in reply, (text, reply)


def test_same_numbers_in_two_projects_stay_apart(project: ConsoleChat, other: ConsoleChat, unchanged: Unchanged) -> None:
    project.say("/任务 新增 写接口 @李四", name=PM)
    project.say("/任务 新增 联调 @李四", name=PM)
    project.say("/风险 新增 接口不稳定", name=PM)
    project.say("/行动 新增 订酒店 @李四 截止:周五", name=PM)
    project.say("/决议 采用方案B", name=PM)
    # The same people run a second project in another group.
    assert "已创建项目" in other.say("/项目 创建 年会", name=PM)
    other.say("/任务 新增 订场地 @李四", name=PM)
    assert "#1 订场地 → 已完成" in other.say("#1 完成", name="李四")  # its own #1
    with unchanged(project):
        assert "本项目没有任务 #2" in other.say("#2 完成", name="李四")
        assert "本项目没有任务 #2" in other.say("/任务 依赖 #1 #2", name=PM)
        assert "本项目没有任务 #2" in other.say("/任务 新增 布置 父:#2", name=PM)
        assert "本项目没有风险 R1" in other.say("/风险 关闭 R1", name=PM)
        assert "本项目没有行动项 A1" in other.say("/行动 完成 A1", name=PM)
        assert "本项目没有决议 D1" in other.say("/行动 新增 订车 @李四 截止:周五 来源:D1", name=PM)
        assert "本项目没有决议 D1" in other.say("/决议 D1", name=PM)
        assert "订场地" in other.say("/任务 列表 全部") and "写接口" not in other.say("/任务 列表 全部")
        assert "风险" in other.say("/风险 列表") and "接口不稳定" not in other.say("/风险 列表")
        assert "没有部门“研发部”。" in other.say("/任务 列表 部门:研发部")
    statuses = query(project, lambda s: s.execute(
        select(Project.chat_id, Task.number, Task.status).join(Project).order_by(Project.id, Task.number)).all())
    assert [tuple(r) for r in statuses] == [  # type: ignore[attr-defined]
        ("g1", 1, TaskStatus.TODO), ("g1", 2, TaskStatus.TODO), ("g2", 1, TaskStatus.DONE)
    ]


def test_roles_do_not_carry_across_projects(project: ConsoleChat, other: ConsoleChat, unchanged: Unchanged) -> None:
    other.say("/项目 创建 年会", name="李四")  # 李四 is PM there, a member here
    with unchanged(project):
        assert "只有项目经理（PM）可以添加成员" in project.say("/成员 添加 @钱七", name="李四")
    assert "已添加 @钱七" in other.say("/成员 添加 @钱七", name="李四")
