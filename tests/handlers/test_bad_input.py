"""Bad input anywhere gets a clear Chinese reply with a usage line, and the database stays as it was."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from tests.chat import ConsoleChat
from tests.handlers.conftest import PM

Unchanged = Callable[[ConsoleChat], AbstractContextManager[None]]

CASES = [
    # malformed commands
    ("/任务", "缺少任务编号或子指令", True),
    ("/任务 xx", "“xx”不是任务编号", True),
    ("/任务 新增", "缺少任务标题", True),
    ("/任务 新增    ", "缺少任务标题", True),
    ("/任务 新增 截止:周五", "缺少任务标题", True),
    ("/任务 列表 随便", "不认识筛选条件“随便”", True),
    ("/任物 列表", "是不是想用 /任务", True),
    ("/风险 删除 R1", "“删除”不是风险编号", True),
    ("/行动 新增 订酒店", "行动项必须有负责人", True),
    ("/进度 #1", "缺少进度百分比", True),
    ("/阻塞 #1", "请写上 #1 阻塞的原因", True),
    ("/任务 #1 飞", "不认识对任务的操作“飞”", True),
    # unknown ids
    ("/任务 #999", "本项目没有任务 #999", True),
    ("#999 完成", "本项目没有任务 #999", True),
    ("/风险 R99", "本项目没有风险 R99", True),
    ("/行动 完成 A99", "本项目没有行动项 A99", True),
    ("/决议 D99", "本项目没有决议 D99", True),
    ("/任务 #99999999999", "不是任务编号", True),
    ("#99999999999 完成", "本项目没有任务", True),
    # past or impossible dates
    ("/任务 新增 写稿 截止:2026-02-30", "没有 2026-02-30 这一天", True),
    ("/任务 新增 写稿 截止:13月1日", "没有 13 月", True),
    ("/任务 新增 写稿 截止:昨天", "已经过去了", True),
    ("/任务 新增 写稿 截止:2026-11-01", "已经过去了", True),
    ("/任务 新增 写稿 截止:2099-01-01", "太远了", True),
    ("/任务 新增 写稿 截止:哈哈", "看不懂日期“哈哈”", True),
    ("/任务 新增 写稿 截止:2026-12-10 开始:2026-12-20", "晚于截止日期", True),
    ("/行动 新增 订车 @李四 截止:上周五", "已经过去了", True),
    # very long text
    ("/任务 新增 " + "长" * 201, "任务标题太长（201 字）", True),
    ("/风险 新增 " + "长" * 501, "风险描述太长（501 字）", True),
    ("/决议 " + "长" * 501, "决议内容太长（501 字）", True),
    ("/阻塞 #1 " + "长" * 501, "说明太长", True),
    ("/进度 #1 -5%", "进度应在 0% 到 100% 之间", True),
    ("#1 1000%", "进度应在 0% 到 100% 之间", True),
    ("#1 -20%", "进度应在 0% 到 100% 之间", True),
    ("/任务 修改 #1 依赖:#2", "依赖请用专门的指令修改", True),
    ("长" * 2001, "消息太长（2001 字）", False),
    ("/任务 新增 写稿 交付物:" + "长" * 201, "交付物描述太长", True),
    ("/任务 新增 写稿 部门:" + "长" * 51, "部门名称应为 1–50 个字", True),
    ("/任务 新增 写稿 @" + "名" * 129, "太长了，不像是一个人", True),  # longer than any stored id
    # odd unicode
    ("/任务 新增 \u200b\u200d\u2060", "缺少任务标题", True),
    ("/任务 新增 \u202e\u0000 截止：周五", "缺少任务标题", True),
    ("／任务　＃１　飞", "不认识对任务的操作“飞”", True),
    ("🎉🎉🎉", "没看懂“🎉🎉🎉”", True),
    ("/🎉", "不认识指令“🎉”", False),
    # permissions
    ("/任务 新增 写代码 @赵六", "成员只能给自己新增任务", False),
    ("/任务 修改 #1 @李四", "只有 PM 可以改派 #1 的负责人", False),
    ("/项目 结项", "只有项目经理（PM）可以结项", False),
    ("/部门 添加 法务部", "只有项目经理（PM）可以新增部门", False),
]


@pytest.mark.parametrize(("text", "expected", "with_usage"), CASES, ids=[c[0][:24] for c in CASES])
def test_bad_input_is_answered_and_changes_nothing(
    project: ConsoleChat, unchanged: Unchanged, text: str, expected: str, with_usage: bool
) -> None:
    project.say("/任务 新增 写接口 截止:周五", name="张三")  # #1, owned by 张三
    with unchanged(project):
        reply = project.say(text, name="张三" if text.startswith(("/阻塞", "/进度", "#", "/任务 修改")) else "李四")
    assert expected in reply, reply
    if with_usage:
        assert "用法：" in reply, reply
    assert len(reply) < 1200  # short enough for a phone screen


def test_project_creation_limits(chat: ConsoleChat, unchanged: Unchanged) -> None:
    with unchanged(chat):
        assert "部门名称太长（51 字）" in chat.say("/项目 创建 发布会 部门:研发部," + "长" * 51)
        assert "项目目标太长（501 字）" in chat.say("/项目 创建 发布会 目标:" + "长" * 501)
        assert "项目名称太长" in chat.say("/项目 创建 " + "长" * 101)
    # A very long display name is cut to fit its column.
    assert "已创建项目" in chat.say("/项目 创建 发布会", name="王" * 150, user="wang")


def test_odd_unicode_in_a_title_is_kept_clean(project: ConsoleChat) -> None:
    reply = project.say("/任务 新增 🎉庆功宴\u200b准备\u202e 截止：１２月１日", name=PM)
    assert reply.splitlines()[0] == "已新增 #1 🎉庆功宴准备"
    assert "12-01(周二)" in reply
