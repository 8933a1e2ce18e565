"""/风险: raise, list (open, high first), show with history, update, close, reopen."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import select

from models import Risk, RiskLevel, RiskStatus, RiskStrategy
from tests.chat import ConsoleChat
from tests.handlers.conftest import PM, query

Unchanged = Callable[[ConsoleChat], AbstractContextManager[None]]


def risk(chat: ConsoleChat, number: int) -> Risk:
    found = query(chat, lambda s: s.scalar(select(Risk).where(Risk.number == number)))
    assert isinstance(found, Risk)
    return found


def test_member_raises_a_risk_with_every_field(project: ConsoleChat) -> None:
    reply = project.say(
        "/风险 新增 服务器可能扛不住流量 等级：高 影响:发布会当天宕机 措施:扩容 应对:减轻 触发:压测 QPS<5000 @赵六",
        name="李四",
    )
    assert reply.splitlines() == ["已登记风险 R1🔴 服务器可能扛不住流量", "等级 高 · 负责人 @赵六 · 应对 减轻"]
    r = risk(project, 1)
    assert (r.level, r.strategy, r.impact, r.mitigation, r.trigger) == (
        RiskLevel.HIGH, RiskStrategy.MITIGATE, "发布会当天宕机", "扩容", "压测 QPS<5000"
    )
    assert r.status == RiskStatus.OPEN


def test_english_risk_commands(project: ConsoleChat) -> None:
    assert "已登记风险 R1🟢 Venue may cancel" in project.say("/risk add Venue may cancel level:low strategy:accept")
    assert "已登记风险 R2🟠" in project.say("/risk new Printer late")  # medium by default, owner = who raised it
    assert "等级 低 → 🔴高" in project.say("/risk update R1 level:high", name=PM)
    assert "已关闭风险 R2" in project.say("/risk close R2 arrived", name=PM)
    assert project.say("/risk list").splitlines() == ["【未关闭的风险（1）】", "R1🔴高 Venue may cancel · 王经理 · 接受"]


def test_list_open_risks_high_first(project: ConsoleChat) -> None:
    project.say("/风险 新增 印刷延期 等级:低", name="张三")
    project.say("/风险 新增 接口不稳定 等级:高 @李四", name=PM)
    project.say("/风险 新增 场地冲突 等级:中", name="张三")
    project.say("/风险 新增 预算超支 等级:高", name=PM)
    project.say("/风险 关闭 R4 追加预算已批", name=PM)
    assert project.say("/风险 列表").splitlines() == [
        "【未关闭的风险（3）】",
        "R2🔴高 接口不稳定 · 李四",
        "R3🟠中 场地冲突 · 张三",
        "R1🟢低 印刷延期 · 张三",
    ]
    assert "R4🔴高 预算超支 · 王经理 · 已关闭" in project.say("/风险 列表 全部")
    assert project.say("/风险 列表 高").splitlines() == ["【未关闭的高风险（1）】", "R2🔴高 接口不稳定 · 李四"]


def test_show_risk_with_history(project: ConsoleChat) -> None:
    project.say("/风险 新增 接口不稳定 等级:高 @李四", name=PM)
    project.clock.advance(hours=2)
    project.say("/风险 更新 R1 已压测 等级:中 措施:加缓存", name="李四")
    reply = project.say("/风险 R1")
    assert reply.splitlines() == [
        "【R1 接口不稳定】",
        "等级：🟠中 · 状态：打开",
        "负责人：李四",
        "影响：未填写",
        "应对：未定 · 措施：加缓存",
        "登记：11-23(周一)",
        "记录：",
        "  11-23 12:00 李四 措施：空 → 加缓存（已压测）",
        "  11-23 12:00 李四 等级：高 → 中（已压测）",
        "  11-23 10:00 王经理 创建",
    ]


def test_update_owner_strategy_and_notes(project: ConsoleChat, unchanged: Unchanged) -> None:
    project.say("/风险 新增 接口不稳定 @李四", name="张三")
    assert "负责人 李四 → @赵六" in project.say("/风险 修改 R1 @赵六 应对:转移", name="张三")
    assert "已记录 R1 的进展：供应商已回复" in project.say("/风险 更新 R1 供应商已回复", name="赵六")
    with unchanged(project):
        assert "R1 没有变化" in project.say("/风险 更新 R1", name="赵六")
        assert "只有负责人、提出人或 PM 可以修改" in project.say("/风险 更新 R1 等级:高", name="李四")
        assert "不认识风险等级“超高”" in project.say("/风险 更新 R1 等级:超高", name=PM)
        assert "不认识应对策略“躲开”" in project.say("/风险 更新 R1 应对:躲开", name=PM)
    assert risk(project, 1).strategy == RiskStrategy.TRANSFER


def test_close_and_reopen(project: ConsoleChat, unchanged: Unchanged) -> None:
    project.say("/风险 新增 接口不稳定 @李四", name=PM)
    assert project.say("/风险 关闭 R1 已换供应商", name="李四") == "已关闭风险 R1 接口不稳定\n说明：已换供应商"
    r = risk(project, 1)
    assert r.status == RiskStatus.CLOSED and r.close_note == "已换供应商" and r.closed_at is not None
    with unchanged(project):
        assert "R1 已经关闭了" in project.say("/风险 关闭 R1", name=PM)
        assert "R1 已关闭。要重新打开请用" in project.say("/风险 更新 R1 等级:高", name=PM)
        assert "只有负责人、提出人或 PM 可以修改" in project.say("/风险 重开 R1", name="赵六")
    assert "已重新打开风险 R1" in project.say("/风险 重开 R1 又出问题了", name=PM)
    assert risk(project, 1).status == RiskStatus.OPEN


def test_bad_risk_input(project: ConsoleChat, unchanged: Unchanged) -> None:
    with unchanged(project):
        assert "缺少风险描述" in project.say("/风险 新增 等级:高")
        assert "风险描述太长（501 字）" in project.say("/风险 新增 " + "险" * 501)
        assert "不认识风险等级“极高”" in project.say("/风险 新增 服务器 等级:极高")
        assert "本项目没有风险 R99" in project.say("/风险 R99")
        assert "本项目没有风险 R99" in project.say("/风险 关闭 R99")
        assert "“#3”不是风险编号" in project.say("/风险 关闭 #3")
        assert "一个风险只能有一位负责人" in project.say("/风险 新增 服务器 @李四 @赵六", name=PM)
