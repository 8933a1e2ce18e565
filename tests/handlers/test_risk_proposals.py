"""Worried updates (“估计赶不上”, “有点悬”, “原则上周五能完成”) become risk proposals for the PM.

The update changes no field (it is kept as a note); the PM is @-mentioned with one command to adopt
or dismiss; the same task is never proposed twice for the same worry.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from handlers.worry_words import WorryKind, read_worry
from models import Change, ProposalStatus, Risk, RiskLevel, RiskProposal, RiskStatus, Task, TaskStatus
from tests.chat import ConsoleChat
from tests.handlers.conftest import PM, query
from tests.handlers.test_free_text import state


@pytest.fixture
def tasks(project: ConsoleChat) -> ConsoleChat:
    for title in ("接口开发", "联调测试", "宣传文案", "场地预订"):
        project.say(f"/任务 新增 {title} @李四 截止:周五", name=PM)
    return project


def proposals(chat: ConsoleChat) -> list[tuple[int, str, RiskLevel, ProposalStatus]]:
    rows = query(chat, lambda s: s.execute(
        select(Task.number, RiskProposal.worry, RiskProposal.level, RiskProposal.status)
        .join(Task, Task.id == RiskProposal.task_id).order_by(RiskProposal.id)).all())
    return [tuple(r) for r in rows]  # type: ignore[attr-defined, misc]


def risks(chat: ConsoleChat) -> list[tuple[int, RiskLevel, int | None, str, RiskStatus]]:
    rows = query(chat, lambda s: s.execute(
        select(Risk.number, Risk.level, Task.number, Risk.description, Risk.status)
        .outerjoin(Task, Task.id == Risk.task_id).order_by(Risk.number)).all())
    return [tuple(r) for r in rows]  # type: ignore[attr-defined, misc]


def notes(chat: ConsoleChat) -> list[str | None]:
    return query(chat, lambda s: list(s.scalars(  # type: ignore[return-value]
        select(Change.note).where(Change.entity == "task", Change.field == "note").order_by(Change.id))))


# ---------------------------------------------------------------------------- the words


@pytest.mark.parametrize(
    ("text", "kind", "level"),
    [
        ("估计赶不上了", WorryKind.LATE, RiskLevel.HIGH),
        ("恐怕要推迟两天", WorryKind.LATE, RiskLevel.HIGH),
        ("周五肯定交不了", WorryKind.LATE, RiskLevel.HIGH),
        ("这周怕是来不及", WorryKind.LATE, RiskLevel.HIGH),
        ("已经落后于计划", WorryKind.LATE, RiskLevel.HIGH),
        ("可能得延后", WorryKind.LATE, RiskLevel.MEDIUM),
        ("也许会顺延一周", WorryKind.LATE, RiskLevel.MEDIUM),
        ("might slip to next week", WorryKind.LATE, RiskLevel.MEDIUM),
        ("we are behind schedule", WorryKind.LATE, RiskLevel.HIGH),
        ("时间有点紧张", WorryKind.DOUBT, RiskLevel.MEDIUM),
        ("这个够呛", WorryKind.DOUBT, RiskLevel.MEDIUM),
        ("周五交付没把握", WorryKind.DOUBT, RiskLevel.MEDIUM),
        ("供应商那边难说", WorryKind.DOUBT, RiskLevel.MEDIUM),
        ("担心会卡在审批", WorryKind.DOUBT, RiskLevel.MEDIUM),
        ("the date is at risk", WorryKind.DOUBT, RiskLevel.MEDIUM),
        ("理论上下周二可以交", WorryKind.HEDGE, RiskLevel.LOW),
        ("力争月底前上线", WorryKind.HEDGE, RiskLevel.LOW),
        ("不出意外周四完成", WorryKind.HEDGE, RiskLevel.LOW),
        ("hopefully done by Monday", WorryKind.HEDGE, RiskLevel.LOW),
        ("估计要晚两天", WorryKind.LATE, RiskLevel.HIGH),
        ("可能会晚一点交", WorryKind.LATE, RiskLevel.MEDIUM),
        ("进度滞后了", WorryKind.LATE, RiskLevel.HIGH),
        ("人手不够，看情况", WorryKind.DOUBT, RiskLevel.MEDIUM),
        ("有延期的风险", WorryKind.DOUBT, RiskLevel.MEDIUM),
        ("试试看周三给", WorryKind.HEDGE, RiskLevel.LOW),
        ("尽量周五前给，但估计赶不上", WorryKind.LATE, RiskLevel.HIGH),  # the strongest worry wins
    ],
)
def test_worry_classes_and_levels(text: str, kind: WorryKind, level: RiskLevel) -> None:
    worry = read_worry(text)
    assert worry is not None, text
    assert (worry.kind, worry.level) == (kind, level)


@pytest.mark.parametrize(
    "text",
    ["完成了", "不会延期", "应该不会推迟", "来得及", "没有风险", "时间不紧张", "进度 60%", "明天开始", "卡住了 等法务",
     "晚上做完", "没有延期风险", "不危险"],
)
def test_no_worry(text: str) -> None:
    assert read_worry(text) is None


# ---------------------------------------------------------------------------- in the group


def test_three_worried_updates_make_three_proposals_and_nothing_else(tasks: ConsoleChat) -> None:
    before = {n: state(tasks, n) for n in (1, 2, 3, 4)}
    first = tasks.say("#1 理论上下周二可以交", name="李四")
    second = tasks.say("#2 时间有点紧张", name="李四")
    third = tasks.say("#3 恐怕要推迟两天", name="李四")
    assert {n: state(tasks, n) for n in (1, 2, 3, 4)} == before  # no status, progress or reason changed
    assert proposals(tasks) == [
        (1, "hedge", RiskLevel.LOW, ProposalStatus.PENDING),
        (2, "doubt", RiskLevel.MEDIUM, ProposalStatus.PENDING),
        (3, "late", RiskLevel.HIGH, ProposalStatus.PENDING),
    ]
    assert risks(tasks) == []  # nothing registered before the PM says so
    assert notes(tasks) == ["理论上下周二可以交", "时间有点紧张", "恐怕要推迟两天"]  # recorded as written
    for reply, ref, level in ((first, "#1", "低"), (second, "#2", "中"), (third, "#3", "高")):
        assert "回复“是”确认" not in reply
        assert f"建议登记为{level}风险" in reply
        assert f"@{PM}" in reply and f"/风险 采纳 {ref}" in reply and f"/风险 忽略 {ref}" in reply


def test_the_same_worry_is_not_proposed_twice(tasks: ConsoleChat) -> None:
    tasks.say("#2 有点悬", name="李四")
    again = tasks.say("#2 还是没把握", name="张三")
    assert "风险" not in again and "备注" in again
    assert tasks.say("/风险 忽略 #2", name=PM).startswith("好的，#2 的风险提示不登记")
    assert "风险" not in tasks.say("#2 依然有点悬", name="李四")  # dismissed stays dismissed
    stronger = tasks.say("#2 估计赶不上了", name="李四")  # a new worry about the same task
    assert "建议登记为高风险" in stronger
    assert proposals(tasks) == [
        (2, "doubt", RiskLevel.MEDIUM, ProposalStatus.DISMISSED),
        (2, "late", RiskLevel.HIGH, ProposalStatus.PENDING),
    ]


def test_the_pm_adopts_in_one_step(tasks: ConsoleChat) -> None:
    tasks.say("#4 周五交付没把握", name="李四")
    reply = tasks.say("/风险 采纳 #4", name=PM)
    assert reply.startswith("已登记风险 R1🟠 #4 场地预订")
    assert "负责人 @李四" in reply
    assert risks(tasks) == [(1, RiskLevel.MEDIUM, 4, "#4 场地预订 进度没把握：李四说“周五交付没把握”", RiskStatus.OPEN)]
    assert proposals(tasks)[0][3] == ProposalStatus.ADOPTED
    shown = tasks.say("/风险 R1", name=PM)
    assert "关联任务：#4 场地预订" in shown and "影响：#4 截止" in shown
    assert "R1🟠中" in tasks.say("/风险 列表", name="李四")
    assert "没有待确认的风险提示" in tasks.say("/风险 采纳 #4", name=PM)


def test_undoing_an_adoption_puts_the_proposal_back(tasks: ConsoleChat) -> None:
    tasks.say("#4 周五交付没把握", name="李四")
    tasks.say("/风险 采纳 #4", name=PM)
    undone = tasks.say("/撤销", name=PM)
    assert "R1" in undone, undone
    assert risks(tasks)[0][4] == RiskStatus.CLOSED
    assert proposals(tasks)[0][3] == ProposalStatus.PENDING  # the PM decides again
    assert "#4" in tasks.say("/风险 候选", name=PM)
    assert tasks.say("/风险 采纳 #4", name=PM).startswith("已登记风险 R2")


def test_the_pm_may_change_the_level_and_adopt_all(tasks: ConsoleChat) -> None:
    tasks.say("#1 力争月底前上线\n#3 这周怕是来不及", name="李四")
    assert [p[0] for p in proposals(tasks)] == [1, 3]
    listed = tasks.say("/风险 候选", name="张三")
    assert "#1 接口开发 · 🟢低" in listed and "#3 宣传文案 · 🔴高" in listed
    ambiguous = tasks.say("/风险 采纳", name=PM)
    assert "有 2 个任务的风险提示待确认" in ambiguous and risks(tasks) == []
    assert "R1🟠" in tasks.say("/风险 采纳 #1 等级:中", name=PM)
    tasks.say("/风险 采纳 全部", name=PM)
    assert [(r[0], r[1], r[2]) for r in risks(tasks)] == [(1, RiskLevel.MEDIUM, 1), (2, RiskLevel.HIGH, 3)]
    assert tasks.say("/风险 候选", name=PM) == "待确认的风险提示：没有。"


def test_only_a_pm_decides(tasks: ConsoleChat) -> None:
    tasks.say("#1 可能得延后", name="李四")
    assert "只有项目经理（PM）可以采纳风险提示" in tasks.say("/风险 采纳 #1", name="李四")
    assert "只有项目经理（PM）可以忽略风险提示" in tasks.say("/risk dismiss #1", name="张三")
    assert proposals(tasks)[0][3] == ProposalStatus.PENDING
    assert "R1" in tasks.say("/risk adopt #1 @张三", name=PM)
    assert "负责人 @张三" in tasks.say("/风险 R1", name=PM).replace("负责人：张三", "负责人 @张三")


def test_an_update_that_changes_something_may_carry_a_worry_too(tasks: ConsoleChat) -> None:
    reply = tasks.say("#2 进度 40%，周五恐怕交不了", name="李四")
    assert state(tasks, 2) == (TaskStatus.IN_PROGRESS, 40, None)
    assert "建议登记为高风险" in reply
    done = tasks.say("#3 完成了，原则上不会再改", name="李四")  # a done task is no risk
    assert "风险" not in done and proposals(tasks) == [(2, "late", RiskLevel.HIGH, ProposalStatus.PENDING)]


def test_plain_updates_and_no_worry_propose_nothing(tasks: ConsoleChat) -> None:
    for text in ("#1 开始了", "#2 卡住了，等接口", "#3 明天完成", "#4 不会延期", "#1 会延期吗？", "#1 会延期吗 #2 会延期吗"):
        assert "风险" not in tasks.say(text, name="李四"), text
    assert proposals(tasks) == []


def test_the_setting_turns_it_off(tasks: ConsoleChat) -> None:
    assert "已关闭风险提示" in tasks.say("/项目 设置 风险提示 关", name=PM)
    assert "风险提示：关" in tasks.say("/项目 设置", name=PM)
    reply = tasks.say("#1 估计赶不上", name="李四")
    assert "风险" not in reply and "已记录 #1 接口开发 的备注" in reply
    assert proposals(tasks) == []
    assert "已开启风险提示" in tasks.say("/project set risk-hints on", name=PM)
    assert "建议登记为高风险" in tasks.say("#1 估计赶不上", name="李四")
    assert "只有项目经理" in tasks.say("/项目 设置 风险提示 关", name="李四")


def test_bad_input_is_answered_with_the_usage(tasks: ConsoleChat) -> None:
    tasks.say("#1 可能得延后", name="李四")
    assert "“R1”不是任务编号" in tasks.say("/风险 采纳 R1", name=PM)
    assert "本项目没有任务 #9" in tasks.say("/风险 采纳 #9", name=PM)
    assert "不认识风险等级“超高”" in tasks.say("/风险 采纳 #1 等级:超高", name=PM)
    assert "#2 没有待确认的风险提示" in tasks.say("/风险 忽略 #2", name=PM)
    assert proposals(tasks)[0][3] == ProposalStatus.PENDING and risks(tasks) == []
