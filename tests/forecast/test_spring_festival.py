"""春节 2027 (no official data in chinesecalendar 1.11: holidays.CN's estimate, Feb 5–10 off) and a project day off."""

from __future__ import annotations

from datetime import datetime

from tests.chat import ConsoleChat, FixedClock
from tests.forecast.conftest import PM, SHANGHAI


def test_what_if_over_spring_festival_and_a_project_day_off(chat: ConsoleChat, clock: FixedClock) -> None:
    clock.set(datetime(2027, 1, 25, 10, 0, tzinfo=SHANGHAI))  # a Monday
    chat.say("/项目 创建 年货节 截止:2027-02-26", name=PM)
    chat.say("/成员 添加 @李四 部门:运营部", name=PM)
    chat.say("/帮助", name="李四")
    chat.say("/任务 新增 选品 开始:2027-01-25 截止:2027-02-04", name=PM)  # 9 workdays
    chat.say("/任务 新增 上架 @李四 截止:2027-02-18 依赖:#1", name=PM)  # 02-11 … 02-18: 6 workdays
    chat.say("/任务 新增 开卖 截止:2027-02-19 依赖:#2 里程碑:是", name=PM)
    lines = chat.say("/推演 #1 延期2天").splitlines()
    assert lines[1] == "假设 #1 选品 延期 2 个工作日，预计 02-12(周五) 完成。"  # 02-05 … 02-10 off: 02-11, 02-12
    assert lines[3:5] == [
        "#2 上架 · 李四 · 02-18(周四) → 02-22(周一)（晚 2 个工作日）",
        "#3◆里程碑 开卖 · 王经理 · 02-19(周五) → 02-23(周二)（晚 2 个工作日）",
    ]
    chat.say("/项目 休息日 2027-02-11 团建", name=PM)  # the project's own day off, right after the holiday
    lines = chat.say("/推演 #1 延期2天").splitlines()
    assert lines[1] == "假设 #1 选品 延期 2 个工作日，预计 02-15(周一) 完成。"  # 02-12, then Mon 02-15
    assert lines[3] == "#2 上架 · 李四 · 02-18(周四) → 02-22(周一)（晚 2 个工作日）"  # 02-16 … 02-22
    assert chat.say("/关键路径").splitlines()[1:5] == [
        "#1 选品 · 王经理 · 待开始 · 01-25(周一)~02-04(周四)",
        "#2 上架 · 李四 · 待开始 · 02-12(周五)~02-18(周四)",
        "#3◆ 开卖 · 王经理 · 待开始 · 02-19(周五)~02-19(周五)",
        "预计完工 02-19(周五)，项目截止 02-26(周五)，赶得上。",
    ]
