"""A project whose dependency chain crosses 国庆 2026 (chinesecalendar 1.11: Oct 1–7 off, 调休 Sun Sep 20
and Sat Oct 10 worked; 中秋 Fri Sep 25 off).

    #1 需求评审 (王经理)   09-21 … 09-25 (09-25 is 中秋节)        4 workdays
    #2 接口开发 (李四)     after #1 … 10-09  (09-28 … 09-30, 10-08, 10-09)   5
    #3 联调测试 (赵六)     after #2 … 10-14  (10-10 Sat worked, 10-12 … 10-14) 4
    #4 上线评审 ◆ (王经理) after #3 … 10-15                                  1
    #5 物料准备 (张三)     after #1 … 10-13                                  8
Project deadline 10-16 (Fri). Today: Mon 2026-09-21 10:00 Shanghai.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.chat import ConsoleChat, FixedClock

PM = "王经理"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 9, 21, 10, 0, tzinfo=SHANGHAI))


@pytest.fixture
def chain(chat: ConsoleChat) -> ConsoleChat:
    assert "已创建项目" in chat.say("/项目 创建 秋季发布 截止:2026-10-16 部门:研发部,市场部", name=PM)
    assert "已添加" in chat.say("/成员 添加 @李四 @赵六 部门:研发部", name=PM)
    assert "已添加" in chat.say("/成员 添加 @张三 部门:市场部", name=PM)
    for name in ("李四", "赵六", "张三"):
        chat.say("/帮助", name=name)
    for command in (
        "/任务 新增 需求评审 开始:2026-09-21 截止:2026-09-25",
        "/任务 新增 接口开发 @李四 截止:2026-10-09 依赖:#1",
        "/任务 新增 联调测试 @赵六 截止:2026-10-14 依赖:#2",
        "/任务 新增 上线评审 截止:2026-10-15 依赖:#3 里程碑:是",
        "/任务 新增 物料准备 @张三 截止:2026-10-13 依赖:#1",
    ):
        assert "已新增" in chat.say(command, name=PM), command
    return chat
