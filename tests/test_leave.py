"""Leave and handover over 国庆 2026: the person is out of prompts, reminders and 未更新; stand-ins are
proposed before the leave (department colleagues first) and the PM confirms each in one step."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.runtime import Runtime
from models import ActionItem, Handover, HandoverStatus, Task
from scheduler.jobs import JobRunner
from tests.chat import ConsoleChat
from tests.scheduling import posts, sh

PM = "王经理"


@pytest.fixture
def runner(runtime: Runtime) -> JobRunner:
    return runtime.job_runner()


@pytest.fixture
def team(chat: ConsoleChat) -> ConsoleChat:
    """研发部 李四 赵六, 市场部 张三; 李四 owns #1 (due 10-09), #2 (due 12-31) and A1 (due 10-09)."""
    at = sh("2026-09-21 10:00")
    chat.say("/项目 创建 发布会 部门:研发部,市场部", at=at)
    chat.say("/成员 添加 @李四 @赵六 部门:研发部", at=at)
    chat.say("/成员 添加 @张三 部门:市场部", at=at)
    chat.say("/任务 新增 写接口 @李四 截止:2026-10-09", at=at)
    chat.say("/任务 新增 联调 @李四 截止:2026-12-31", at=at)
    chat.say("/任务 新增 印物料 @张三 截止:2026-10-09", at=at)
    chat.say("/任务 新增 测试 @赵六 截止:2026-10-20", at=at)
    chat.say("/行动 新增 联系供应商 @李四 截止:2026-10-09", at=at)
    chat.say("/风险 新增 接口文档不全 @李四", at=at)
    return chat


def owner_of(chat: ConsoleChat, number: int) -> str | None:
    with chat.runtime.session_factory() as session:
        task = session.scalar(select(Task).where(Task.number == number))
        assert task is not None
        return task.owner.name if task.owner else None


def handovers(chat: ConsoleChat) -> list[tuple[str, str | None, HandoverStatus]]:
    with chat.runtime.session_factory() as session:
        rows = session.scalars(select(Handover).order_by(Handover.id)).all()
        return [(h.ref, h.stand_in.name if h.stand_in else None, h.status) for h in rows]


def test_a_leave_over_the_national_day_holiday(team: ConsoleChat, runtime: Runtime, runner: JobRunner) -> None:
    registered = team.say("/请假 10-08~10-10 回老家", name="李四", at=sh("2026-09-28 10:00"))
    # 10-10 is a make-up Saturday (调休): three working days.
    assert registered.startswith("已登记：李四 10-08(周四) 至 10-10(周六) 请假（3 个工作日）：回老家。")
    assert "开始前一天会提议" in registered and handovers(team) == []
    assert "李四 10-08(周四) 至 10-10(周六) · 回老家" in team.say("/leave list", name="张三", at=sh("2026-09-28 10:01"))

    runner.run(["reminders"], sh("2026-09-29 10:00"))
    assert posts(runtime.session_factory, "leave-handover") == []  # 09-30 is still a workday before it
    runner.run(["reminders"], sh("2026-09-30 10:00"))  # the last workday before: 国庆 follows
    runner.run(["reminders"], sh("2026-09-30 10:30"))
    [proposal] = posts(runtime.session_factory, "leave-handover")
    assert "@王经理 李四 10-08(周四) 至 10-10(周六) 请假" in proposal.text
    assert "#1 写接口（截止 10-09(周五)） → 赵六" in proposal.text  # the department colleague
    assert "A1 联系供应商" in proposal.text and "R1 接口文档不全 → 赵六" in proposal.text
    assert "#2" not in proposal.text  # due after the leave
    assert [h[0] for h in handovers(team)] == ["#1", "R1", "A1"]

    assert "只有项目经理（PM）可以确认交接" in team.say("/交接 确认 #1", name="李四", at=sh("2026-09-30 11:00"))
    confirmed = team.say("/交接 确认 #1", at=sh("2026-09-30 11:00"))
    assert confirmed == "#1 写接口（截止 10-09(周五)） 由 @赵六 代为负责（李四 10-08(周四) 至 10-10(周六) 请假）"
    assert owner_of(team, 1) == "赵六"
    assert "R1 接口文档不全 由 @张三 代为负责" in team.say("/handover confirm r1 @张三", at=sh("2026-09-30 11:01"))
    assert handovers(team) == [("#1", "赵六", HandoverStatus.CONFIRMED), ("R1", "张三", HandoverStatus.CONFIRMED),
                               ("A1", "赵六", HandoverStatus.PENDING)]

    team.say("/项目 设置 催办 17:30", at=sh("2026-10-08 09:00"))
    runner.run(["daily-prompt"], sh("2026-10-08 17:00"))
    [prompt] = posts(runtime.session_factory, "daily-prompt")
    assert "@赵六" in prompt.text and "@张三" in prompt.text and "李四" not in prompt.text
    runner.run(["daily-prompt"], sh("2026-10-08 17:30"))
    [nudge] = posts(runtime.session_factory, "nudge")
    assert "@张三" in nudge.text and "李四" not in nudge.text
    digest = team.say("/汇总", at=sh("2026-10-08 18:00"))
    missing = next(line for line in digest.splitlines() if line.startswith("未更新"))
    assert "张三" in missing and "李四" not in missing  # on leave: never 未更新

    runner.run(["reminders"], sh("2026-10-09 10:00"))  # A1 is due today: its owner is away, the PM is told
    reminders = [p.text for p in posts(runtime.session_factory, "reminders")]
    assert not any("@李四" in text for text in reminders)
    [covering] = [text for text in reminders if "负责人在请假" in text]
    assert "@王经理" in covering and "A1 联系供应商" in covering and "李四请假中" in covering

    runner.run(["daily-prompt"], sh("2026-10-12 17:00"))  # back: #2 is prompted again
    assert "@李四" in posts(runtime.session_factory, "daily-prompt")[-1].text


def test_a_leave_starting_tomorrow_is_handed_over_at_once_and_can_be_cancelled(team: ConsoleChat) -> None:
    at = sh("2026-10-08 15:00")
    reply = team.say("/请假 @李四 明天", at=at)
    assert reply.startswith("已登记：李四 10-09(周五) 请假（1 个工作日）。")
    assert "建议这些事项由以下同事代为负责" in reply and "#1 写接口（截止 10-09(周五)） → 赵六" in reply
    assert "待确认的交接 3 项" in team.say("/请假 列表", at=at)
    assert "与这次重叠" in team.say("/请假 10-09~10-12", name="李四", at=at)
    cancelled = team.say("/请假 取消", name="李四", at=at)
    assert cancelled == "已取消 李四 10-09(周五) 的请假，提醒照常。\n3 项待确认的交接已作废。"
    assert {h[2] for h in handovers(team)} == {HandoverStatus.DROPPED}
    assert "没有待确认或待交还的交接" in team.say("/交接", at=at)
    assert owner_of(team, 1) == "李四"


def test_a_leave_after_the_weekend_is_handed_over_on_friday(team: ConsoleChat) -> None:
    team.say("/任务 新增 周一交付 @李四 截止:2026-10-19", at=sh("2026-10-16 10:00"))
    reply = team.say("/请假 10-19~10-20", name="李四", at=sh("2026-10-16 19:00"))  # Friday evening
    assert "建议这些事项由以下同事代为负责" in reply and "#5 周一交付（截止 10-19(周一)） → 赵六" in reply


def test_all_at_once_and_items_that_changed_hands_meanwhile(team: ConsoleChat) -> None:
    at = sh("2026-10-08 15:00")
    team.say("/请假 10-09", name="李四", at=at)
    team.say("/任务 修改 #1 @张三", at=at)  # reassigned by hand before the PM confirms
    reply = team.say("/交接 确认 全部", at=at)
    assert "#1 写接口（截止 10-09(周五)）：已不由 李四 负责或已结束，不用交接。" in reply
    assert "A1 联系供应商（截止 10-09(周五)） 由 @赵六 代为负责" in reply
    with team.runtime.session_factory() as session:
        action = session.scalar(select(ActionItem).where(ActionItem.number == 1))
        assert action is not None and action.owner is not None and action.owner.name == "赵六"
    assert owner_of(team, 1) == "张三"


def test_undoing_a_confirmation_puts_the_handovers_back(team: ConsoleChat) -> None:
    at = sh("2026-10-08 15:00")
    team.say("/请假 10-09", name="李四", at=at)
    team.say("/交接 确认 #1", at=at)
    team.say("/交接 确认 全部", at=sh("2026-10-08 15:05"))  # A1 and R1 in a later message
    assert owner_of(team, 1) == "赵六"
    undone = team.say("/撤销", at=sh("2026-10-08 15:10"))
    assert "A1" in undone and "R1" in undone, undone
    # Only what the undone message confirmed waits again; #1, confirmed earlier, stays confirmed.
    assert sorted((ref, status) for ref, _who, status in handovers(team)) == [
        ("#1", HandoverStatus.CONFIRMED), ("A1", HandoverStatus.PENDING), ("R1", HandoverStatus.PENDING)]
    assert owner_of(team, 1) == "赵六"
    again = team.say("/交接 确认 A1", at=sh("2026-10-08 15:15"))
    assert "A1 联系供应商" in again and "代为负责" in again


def test_after_the_leave_the_items_are_handed_back_once_the_pm_says_so(
    team: ConsoleChat, runtime: Runtime, runner: JobRunner
) -> None:
    team.say("/请假 10-08~10-10", name="李四", at=sh("2026-09-28 10:00"))
    runner.run(["reminders"], sh("2026-09-30 10:00"))
    team.say("/交接 确认 全部", at=sh("2026-09-30 11:00"))  # #1 → 赵六, R1 → 赵六, A1 → 赵六
    team.say("/任务 #1 完成", name="赵六", at=sh("2026-10-09 11:00"))  # done while covering
    assert "没有可交还的" in team.say("/交接 交还 全部", at=sh("2026-10-10 10:00"))  # 10-10: still away (调休)

    runner.run(["reminders"], sh("2026-10-10 15:00"))
    assert posts(runtime.session_factory, "leave-hand-back") == []
    runner.run(["reminders"], sh("2026-10-12 10:00"))  # the Monday after
    runner.run(["reminders"], sh("2026-10-12 10:30"))
    [told] = posts(runtime.session_factory, "leave-hand-back")
    assert told.text.startswith("@李四 欢迎回来（10-08(周四) 至 10-10(周六) 请假已结束）")
    assert "#1 写接口" in told.text and "R1 接口文档不全 · 赵六" in told.text and "A1 联系供应商" in told.text
    assert "@王经理 交还给 李四：/交接 交还" in told.text
    assert {m.name for m in told.reply.mentions} == {"李四", "王经理"}
    listed = team.say("/交接", at=sh("2026-10-12 10:40"))
    assert "请假已结束，可交还" in listed and "R1 接口文档不全 · 赵六 → 李四" in listed

    assert "只有项目经理（PM）可以交还" in team.say("/交接 交还 R1", name="赵六", at=sh("2026-10-12 11:00"))
    back = team.say("/交接 交还 全部", at=sh("2026-10-12 11:00"))
    assert "#1 写接口（截止 10-09(周五)）：已不由 赵六 负责或已结束，不用交还。" in back
    assert "R1 接口文档不全 交还 @李四 负责（赵六 代理结束）" in back and "A1 联系供应商" in back
    assert owner_of(team, 1) == "赵六"  # finished by the stand-in: stays theirs
    with team.runtime.session_factory() as session:
        action = session.scalar(select(ActionItem).where(ActionItem.number == 1))
        assert action is not None and action.owner is not None and action.owner.name == "李四"
    assert sorted(h[2] for h in handovers(team)) == sorted(
        [HandoverStatus.DROPPED, HandoverStatus.RETURNED, HandoverStatus.RETURNED])
    # /撤销 takes the hand-back back: the stand-ins cover again, and can be handed back later.
    team.say("/撤销", at=sh("2026-10-12 11:05"))
    assert "A1 联系供应商（截止 10-09(周五)） · 赵六 → 李四" in team.say("/交接", at=sh("2026-10-12 11:06"))
    assert "R1 接口文档不全 交还 @李四" in team.say("/交接 交还 R1", at=sh("2026-10-12 11:07"))


def test_the_setting_turns_the_handover_off(team: ConsoleChat, runtime: Runtime, runner: JobRunner) -> None:
    assert "已关闭请假交接" in team.say("/项目 设置 交接 关", at=sh("2026-09-28 10:00"))
    reply = team.say("/请假 10-08~10-09", name="李四", at=sh("2026-09-28 10:00"))
    assert "交接" not in reply and "代为负责" not in reply
    runner.run(["reminders"], sh("2026-09-30 10:00"))
    assert posts(runtime.session_factory, "leave-handover") == [] and handovers(team) == []
    runner.run(["daily-prompt"], sh("2026-10-08 17:00"))
    assert "李四" not in posts(runtime.session_factory, "daily-prompt")[0].text  # still left out of prompts


@pytest.mark.parametrize(
    ("text", "name", "answer"),
    [
        ("/请假", "李四", "缺少请假日期"),
        ("/请假 2026-09-01~2026-09-05", "李四", "已经过去了"),
        ("/请假 2026-10-12~2026-10-08", "李四", "早于开始日期"),
        ("/请假 10-08~2027-03-01", "李四", "一次最多设置 92 天"),
        ("/请假 下周", "李四", "请写具体哪天"),
        ("/请假 @赵六 10-12", "李四", "只有项目经理（PM）可以替别人登记请假"),
        ("/请假 取消", "张三", "张三 没有还没结束的请假"),
        ("/交接 确认", PM, "请写明交接哪一项"),
        ("/交接 确认 #9", PM, "没有待确认的交接“#9”"),
    ],
)
def test_bad_input_changes_nothing(team: ConsoleChat, text: str, name: str, answer: str) -> None:
    reply = team.say(text, name=name, at=sh("2026-09-28 10:00"))
    assert answer in reply, reply
    assert "请假：没有人正在请假" in team.say("/请假 列表", at=sh("2026-09-28 10:00"))
