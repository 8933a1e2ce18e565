"""/里程碑, /关键路径 and /推演 over the 国庆 2026 chain (tests/forecast/conftest.py), and the milestone flag."""

from __future__ import annotations

import io
from datetime import date, datetime

import openpyxl
from sqlalchemy import select

from models import Change, Task
from tests.chat import ConsoleChat, FixedClock
from tests.forecast.conftest import PM, SHANGHAI
from tests.handlers.conftest import snapshot
from tests.handlers.test_export import last_reply


def due_dates(chat: ConsoleChat) -> dict[int, date | None]:
    with chat.runtime.session_factory() as session:
        return {t.number: t.due_date for t in session.scalars(select(Task).order_by(Task.number))}


def test_critical_path_runs_through_the_holiday_and_the_make_up_saturday(chain: ConsoleChat) -> None:
    reply = chain.say("/关键路径").splitlines()
    assert reply[:6] == [
        "【关键路径（4 个任务）】",
        "#1 需求评审 · 王经理 · 待开始 · 09-21(周一)~09-24(周四)",  # 09-25 is 中秋节
        "#2 接口开发 · 李四 · 待开始 · 09-28(周一)~10-09(周五)",
        "#3 联调测试 · 赵六 · 待开始 · 10-10(周六)~10-14(周三)",  # 10-10 is a 调休 workday
        "#4◆ 上线评审 · 王经理 · 待开始 · 10-15(周四)~10-15(周四)",
        "预计完工 10-15(周四)，项目截止 10-16(周五)，赶得上。",
    ]
    assert chain.say("/critical") == "\n".join(reply)


def test_milestones_with_planned_and_forecast_dates_and_risk(chain: ConsoleChat, clock: FixedClock) -> None:
    assert chain.say("/里程碑").splitlines()[:3] == [
        "【里程碑（1）】",
        "◆#4 上线评审 · 王经理 · 计划 10-15(周四) · 预计 10-15(周四)",
        "都在计划内。",
    ]
    clock.set(datetime(2026, 9, 24, 10, 0, tzinfo=SHANGHAI))  # #1 (four workdays) not started yet: 09-30
    chain.say("/阻塞 #2 等接口文档", name="李四")
    lines = chain.say("/milestones").splitlines()
    assert lines[1] == "⚠#4 上线评审 · 王经理 · 计划 10-15(周四) · 预计 10-20(周二) · 预计晚 3 个工作日，#2 阻塞，超出项目截止"
    assert lines[2] == "有风险 1 个。"


def test_what_if_counts_working_days_and_changes_nothing(chain: ConsoleChat) -> None:
    before = snapshot(chain)
    lines = chain.say("/推演 #2 延期3天", name="李四").splitlines()
    assert lines == [
        "【推演：#2 延期 3 个工作日】",
        "假设 #2 接口开发 延期 3 个工作日，预计 10-13(周二) 完成。",  # 10-10 (Sat, 调休), 10-12, 10-13
        "会推迟的任务（2）：",
        "#3 联调测试 · 赵六 · 10-14(周三) → 10-19(周一)（晚 3 个工作日） · ⚠超出项目截止",
        "#4◆里程碑 上线评审 · 王经理 · 10-15(周四) → 10-20(周二)（晚 3 个工作日） · ⚠超出项目截止",
        "受影响的里程碑：#4 上线评审",
        "超出项目截止 10-16(周五) 的：#3，#4",
        "预计完工 10-20(周二)，项目截止 10-16(周五)，超出 2 个工作日。",
        "天数均为工作日，已按节假日、调休和项目休息日计算。只是推演，没有改动任何任务。",
    ]
    assert chain.say("/whatif #2 +3", name="张三").splitlines()[1:] == lines[1:]
    assert snapshot(chain) == before


def test_what_if_across_national_day(chain: ConsoleChat) -> None:
    lines = chain.say("/推演 #1 延期3天").splitlines()
    assert lines[1] == "假设 #1 需求评审 延期 3 个工作日，预计 09-30(周三) 完成。"
    assert lines[3:7] == [
        "#2 接口开发 · 李四 · 10-09(周五) → 10-13(周二)（晚 3 个工作日）",  # starts 10-08, after 国庆
        "#3 联调测试 · 赵六 · 10-14(周三) → 10-19(周一)（晚 3 个工作日） · ⚠超出项目截止",
        "#4◆里程碑 上线评审 · 王经理 · 10-15(周四) → 10-20(周二)（晚 3 个工作日） · ⚠超出项目截止",
        "#5 物料准备 · 张三 · 10-13(周二) → 10-16(周五)（晚 3 个工作日）",
    ]


def test_what_if_with_a_new_due_date(chain: ConsoleChat) -> None:
    lines = chain.say("/推演 #2 截止:10月12日").splitlines()
    assert lines[1:4] == [
        "假设 #2 接口开发 截止改到 10-12(周一)，预计 10-12(周一) 完成。",
        "会推迟的任务（2）：",
        "#3 联调测试 · 赵六 · 10-14(周三) → 10-16(周五)（晚 2 个工作日）",
    ]
    assert lines[4] == "#4◆里程碑 上线评审 · 王经理 · 10-15(周四) → 10-19(周一)（晚 2 个工作日） · ⚠超出项目截止"
    slack = chain.say("/推演 #5 延期2天").splitlines()  # 物料准备 has two workdays of slack
    assert slack[2] == "后续任务都不受影响（有余量或没有后续任务）。"


def test_what_if_refusals(chain: ConsoleChat) -> None:
    usage = "用法：/推演 #7 延期3天 ｜ /推演 #7 截止:12月20日 ｜ /推演 应用"
    for text, first in (
        ("/推演", "缺少任务编号。"),
        ("/推演 #2", "缺少延期天数或新的截止日期。"),
        ("/推演 #2 明天吧", "看不懂“明天吧”，延期写成 延期3天 或 +3（按工作日算）。"),
        ("/推演 #9 +1", "本项目没有任务 #9。发送 /任务 列表 查看现有任务。"),
        ("/推演 #2 +0", "延期天数应在 1 到 250 个工作日之间。"),
    ):
        reply = chain.say(text, name=PM)
        assert reply.splitlines()[0] == first, text
        assert usage in reply or "#9" in text


def test_apply_what_if_after_confirmation_with_history(chain: ConsoleChat) -> None:
    assert "PM 可以接着发送 /推演 应用" not in chain.say("/推演 #2 延期3天", name="李四")
    assert chain.say("/推演 应用", name="李四").startswith("只有项目经理（PM）可以应用推演结果。")
    assert chain.say("/推演 应用", name=PM).startswith("没有可以应用的推演。")
    assert "PM 可以接着发送 /推演 应用" in chain.say("/推演 #2 延期3天", name=PM)
    assert chain.say("/推演 应用", name=PM).splitlines() == [
        "按推演（#2 延期 3 个工作日）修改 3 个任务的截止日期：",
        "#2 截止 10-09(周五) → 10-13(周二)",
        "#3 截止 10-14(周三) → 10-19(周一)",
        "#4 截止 10-15(周四) → 10-20(周二)",
        "回复“是”确认修改，回复其他内容取消。",
    ]
    assert due_dates(chain)[2] == date(2026, 10, 9)  # nothing yet
    reply = chain.say("是", name=PM)
    assert reply.splitlines()[:4] == [
        "已按推演（#2 延期 3 个工作日）修改截止日期：",
        "#2 10-09(周五) → 10-13(周二) · @李四",
        "#3 10-14(周三) → 10-19(周一) · @赵六",
        "#4 10-15(周四) → 10-20(周二) · @王经理",
    ]
    assert "下游提醒" not in reply  # the dependents' due dates moved with it: nobody is late
    assert due_dates(chain) == {
        1: date(2026, 9, 25), 2: date(2026, 10, 13), 3: date(2026, 10, 19), 4: date(2026, 10, 20), 5: date(2026, 10, 13),
    }
    with chain.runtime.session_factory() as session:
        notes = session.execute(select(Change.new_value, Change.note).where(Change.field == "due").order_by(Change.id)).all()
    assert [tuple(n) for n in notes] == [
        ("2026-10-13", "推演应用（#2 延期 3 个工作日）"),
        ("2026-10-19", "推演应用（#2 延期 3 个工作日）"),
        ("2026-10-20", "推演应用（#2 延期 3 个工作日）"),
    ]
    assert "没有" in chain.say("是", name=PM)  # applied once: nothing pending any more
    chain.say("/撤销", name=PM)
    assert due_dates(chain)[2] == date(2026, 10, 9)


def test_apply_is_dropped_by_any_other_message(chain: ConsoleChat) -> None:
    chain.say("/推演 #2 延期3天", name=PM)
    chain.say("/推演 应用", name=PM)
    chain.say("/任务 列表", name=PM)
    assert "没有" in chain.say("是", name=PM)
    assert due_dates(chain)[2] == date(2026, 10, 9)


def test_milestone_flag_set_shown_and_cleared(chain: ConsoleChat) -> None:
    assert chain.say("/任务 新增 发布会 里程碑 截止:2026-10-16", name=PM).endswith("里程碑")  # from the title
    assert "里程碑：是" in chain.say("/任务 #6").splitlines()
    assert "#6◆" in chain.say("/任务 列表")
    edited = chain.say("/任务 修改 #6 里程碑:否", name=PM)
    assert "里程碑 是 → 否" in edited
    assert "里程碑：是" not in chain.say("/任务 #6").splitlines()
    assert "里程碑 否 → 是" in chain.say("/task edit #2 milestone:yes", name=PM)
    assert chain.say("/里程碑").startswith("【里程碑（2）】")
    assert "“也许”看不懂，请写 是 或 否。" in chain.say("/任务 修改 #2 里程碑:也许", name=PM)


def test_a_milestone_at_risk_is_in_the_digest_and_the_agenda(chain: ConsoleChat, clock: FixedClock) -> None:
    line = "⚠#4 上线评审 · 王经理 · 计划 10-15(周四) · 预计 10-20(周二) · 预计晚 3 个工作日，#2 阻塞，超出项目截止"
    assert "里程碑风险" not in chain.say("/汇总", name=PM)
    assert "里程碑风险" not in chain.say("/议程", name=PM)
    clock.set(datetime(2026, 9, 24, 10, 0, tzinfo=SHANGHAI))
    chain.say("/阻塞 #2 等接口文档", name="李四")
    for command in ("/汇总", "/议程"):
        lines = chain.say(command, name=PM).splitlines()
        assert lines[lines.index("里程碑风险（1）") + 1] == f"  {line}", command


def test_what_if_needs_an_open_task_with_a_due_date(chain: ConsoleChat) -> None:
    chain.say("/任务 新增 写总结", name=PM)
    assert chain.say("/推演 #6 截止:10月20日").startswith("#6 还没有截止日期，推演不了。")
    chain.say("/完成 #5", name="张三")
    assert chain.say("/推演 #5 +1").startswith("#5 已经完成，不用推演。")


def test_the_export_marks_milestones(chain: ConsoleChat) -> None:
    chain.say("/导出", name=PM)
    (attachment,) = last_reply(chain).attachments
    rows = list(openpyxl.load_workbook(io.BytesIO(attachment.data))["任务分工表"].iter_rows(values_only=True))
    column = rows[0].index("里程碑")
    assert {r[1]: r[column] for r in rows[1:]} == {
        "需求评审": None, "接口开发": None, "联调测试": None, "上线评审": "是", "物料准备": None,
    }


def test_what_if_of_a_task_already_past_the_deadline(chain: ConsoleChat) -> None:
    chain.say("/任务 修改 #3 截止:2026-10-19", name=PM)  # 联调 now ends after the project deadline 10-16
    lines = chain.say("/推演 #3 +1", name="赵六").splitlines()
    assert lines[3] == "#4◆里程碑 上线评审 · 王经理 · 10-20(周二) → 10-21(周三)（晚 1 个工作日） · 本来就晚于项目截止"
    assert "超出项目截止 10-16(周五) 的" not in "\n".join(lines)


def test_task_detail_shows_the_forecast_of_linked_tasks(chain: ConsoleChat) -> None:
    assert "预测：10-09(周五) 完成 · 按时 · 余量 0 个工作日（关键路径）" in chain.say("/任务 #2").splitlines()
    assert "预测：10-13(周二) 完成 · 按时 · 余量 2 个工作日" in chain.say("/任务 #5").splitlines()
    chain.say("/任务 新增 写总结 截止:2026-10-16", name=PM)
    assert not any(line.startswith("预测：") for line in chain.say("/任务 #6").splitlines())


def test_apply_is_refused_where_changes_need_the_sponsor(chain: ConsoleChat) -> None:
    chain.say("/项目 设置 发起人 @王总", name=PM)
    assert "发起人" in chain.say("/项目 设置 变更审批 发起人", name=PM)
    chain.say("/推演 #2 延期3天", name=PM)
    reply = chain.say("/推演 应用", name=PM)
    assert reply.startswith("本项目的变更需发起人批准：请用 /变更 新增")
    assert due_dates(chain)[2] == date(2026, 10, 9)  # nothing moved
