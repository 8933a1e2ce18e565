"""The builders as pure functions over a real database: (session, project, at) → Reply | None."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from bot.runtime import Runtime
from models import Change, OutboundMessage, Project, RiskLevel, RiskStrategy
from reports import text_reminders
from reports.builders import (
    build_daily_prompt,
    build_digest,
    build_minutes,
    build_nudge,
    build_weekly_agenda,
    build_weekly_digest,
)
from reports.compute import find_reminders
from reports.rules import ESCALATE_BLOCKED, ESCALATE_RISK, REMIND_DUE, REMIND_OVERDUE, managers
from reports.snapshot import Snapshot
from reports.text_reminders import incident_line
from tests.chat import ConsoleChat
from tests.scheduling import add_action, add_decision, add_risk, project_id, sh


@pytest.fixture
def project(chat: ConsoleChat) -> int:
    """发布会: 李四 has #1 (overdue from 11-21) and #2 (due 11-24); 王五 has #3 (blocked since Fri 11-20 15:00)
    and #4 (10% of a 11-16..11-30 plan); 赵六's only task #5 is done; the PM has none."""
    say = chat.say
    say("/项目 创建 发布会", at=sh("2026-11-16 10:00"))
    for who in ("李四", "王五", "赵六"):
        say("大家好", name=who, at=sh("2026-11-16 10:01"))
    say("/任务 新增 写发布稿 @李四 截止:2026-11-20", at=sh("2026-11-16 10:02"))
    say("/任务 新增 订场地 @李四 截止:2026-11-24", at=sh("2026-11-16 10:03"))
    say("/任务 新增 联调接口 @王五 开始:2026-11-16 截止:2026-11-26", at=sh("2026-11-16 10:04"))
    say("/任务 新增 设计海报 @王五 开始:2026-11-16 截止:2026-11-30", at=sh("2026-11-16 10:05"))
    say("/任务 新增 整理名单 @赵六 截止:2026-11-25", at=sh("2026-11-16 10:06"))
    say("#5 完成", name="赵六", at=sh("2026-11-18 11:00"))
    say("#3 阻塞 等第三方接口", name="王五", at=sh("2026-11-20 15:00"))
    say("#4 进度 10%", name="王五", at=sh("2026-11-20 16:00"))
    return project_id(chat.runtime.session_factory)


def _load(runtime: Runtime, pid: int):  # type: ignore[no-untyped-def]
    session = runtime.session_factory()
    project = session.get(Project, pid)
    assert project is not None
    return session, project


def test_daily_prompt_mentions_each_owner_with_open_tasks_overdue_first(runtime: Runtime, project: int) -> None:
    session, p = _load(runtime, project)
    with session:
        reply = build_daily_prompt(session, p, sh("2026-11-23 17:00"))
    assert reply is not None
    assert {m.name for m in reply.mentions} == {"李四", "王五"}  # not 赵六 (all done), not the PM (no tasks)
    text = reply.plain_text()
    assert "今日进度更新 · 发布会 · 11-23(周一)" in text  # issue 10: the project's name in every post's title
    assert text.index("@李四") < text.index("#1 写发布稿") < text.index("#2 订场地")
    assert "#1 写发布稿 · 截止11-20(周五) ⚠逾期3天 · ⚪待开始" in text
    assert "#3 联调接口 · 截止11-26(周四) · ⛔阻塞 · 原因：等第三方接口" in text
    assert "#4 设计海报 · 截止11-30(周一) · 🔵进行中 10%" in text
    assert "#5" not in text and "@赵六" not in text and "@王经理" not in text
    assert "#12 完成" in text and "#12 阻塞 原因" in text and "#12 进度 60%" in text
    assert "<@李四>" in reply.render(lambda m: f"<@{m.user_id}>")  # a real marker (a section title)


def test_daily_prompt_is_none_when_nobody_has_open_tasks(chat: ConsoleChat, runtime: Runtime) -> None:
    chat.say("/项目 创建 空项目", at=sh("2026-11-16 10:00"))
    session, p = _load(runtime, project_id(runtime.session_factory))
    with session:
        assert build_daily_prompt(session, p, sh("2026-11-23 17:00")) is None
        assert build_nudge(session, p, sh("2026-11-23 17:30")) is None
        assert build_weekly_digest(session, p, sh("2026-11-27 18:00")) is None
        assert build_minutes(session, p, sh("2026-11-30 11:00"), meeting_day=date(2026, 11, 30)) is None


def test_builders_do_not_write(runtime: Runtime, project: int) -> None:
    session, p = _load(runtime, project)
    with session:
        before = session.scalar(select(func.count()).select_from(Change))
        at = sh("2026-11-27 17:00")
        build_daily_prompt(session, p, at)
        build_weekly_agenda(session, p, at)
        build_digest(session, p, at)
        build_weekly_digest(session, p, at)
        find_reminders(session, p, at)
        assert not session.new and not session.dirty and not session.deleted
        assert session.scalar(select(func.count()).select_from(Change)) == before
        assert session.scalar(select(func.count()).select_from(OutboundMessage).where(
            OutboundMessage.origin.like("job:%"))) == 0


def test_nudge_pings_only_owners_who_have_not_updated_today(chat: ConsoleChat, runtime: Runtime, project: int) -> None:
    chat.say("#2 进度 50%", name="李四", at=sh("2026-11-23 11:00"))
    session, p = _load(runtime, project)
    with session:
        reply = build_nudge(session, p, sh("2026-11-23 17:30"))
        assert reply is not None
        assert [m.name for m in reply.mentions] == ["王五"]
        assert "@王五 #3、#4" in reply.plain_text()
        # As of 10:00 nobody had updated yet: a builder sees the data as of its `at`.
        earlier = build_nudge(session, p, sh("2026-11-23 10:00"))
        assert earlier is not None and {m.name for m in earlier.mentions} == {"李四", "王五"}


def test_daily_digest(chat: ConsoleChat, runtime: Runtime, project: int) -> None:
    chat.say("#2 进度 50%", name="李四", at=sh("2026-11-23 11:00"))
    chat.say("#4 阻塞 设计师请假", name="王五", at=sh("2026-11-23 09:30"))
    add_risk(runtime.session_factory, project=project, description="场地可能被取消", at=sh("2026-11-23 14:00"),
             owner="王经理")
    session, p = _load(runtime, project)
    with session:
        reply = build_digest(session, p, sh("2026-11-23 18:00"))
    assert reply is not None
    text = reply.plain_text()
    assert "每日汇总 · 发布会 · 11-23(周一)" in text
    assert "已更新（2）：李四、王五" in text  # 王五's blocking counts as an update
    assert "未更新（0）" in text
    assert "新增阻塞（1）\n  #4 设计海报（王五）：设计师请假" in text
    assert "#3" not in text.split("新增阻塞")[1].split("逾期")[0]  # blocked last week: not new
    assert "逾期（1）\n  #1 写发布稿" in text
    assert "明天到期（1）\n  #2 订场地" in text
    assert "风险变化（1）\n  新增 R1（高）场地可能被取消" in text


def test_daily_digest_names_who_did_not_update(runtime: Runtime, project: int) -> None:
    session, p = _load(runtime, project)
    with session:
        reply = build_digest(session, p, sh("2026-11-23 18:00"))
    assert reply is not None
    assert "未更新（2）：李四、王五" in reply.plain_text()
    # On a Friday, "due soon" runs to the next workday (Monday).
    with session:
        friday = build_digest(session, p, sh("2026-11-20 18:00"))
    assert friday is not None and "下个工作日（11-23(周一)）前到期：无" in friday.plain_text()


def test_weekly_agenda(chat: ConsoleChat, runtime: Runtime, project: int) -> None:
    chat.say("#2 完成", name="李四", at=sh("2026-11-24 10:00"))
    add_risk(runtime.session_factory, project=project, description="供应商延期", at=sh("2026-11-24 10:00"))
    add_risk(runtime.session_factory, project=project, description="小风险", at=sh("2026-11-24 10:00"),
             level=RiskLevel.LOW, strategy=RiskStrategy.ACCEPT)
    add_action(runtime.session_factory, project=project, content="确认预算", owner="李四", due=date(2026, 11, 25),
               at=sh("2026-11-23 10:00"))
    session, p = _load(runtime, project)
    with session:
        reply = build_weekly_agenda(session, p, sh("2026-11-27 17:00"))
    assert reply is not None
    text = reply.plain_text()
    assert "周会时间：11-30(周一) 09:00" in text
    # Issue 10: 上周完成 is "since the previous agenda" (none was posted: since the project began), no
    # longer "the last 7 days", so #5 (done 11-18) is listed too.
    assert "一、上周完成（2）\n  #5 整理名单（赵六）\n  #2 订场地（李四）" in text
    slipping = text.split("二、进度滞后")[1].split("三、")[0]
    assert "#1 写发布稿" in slipping and "逾期7天" in slipping
    assert "#4 设计海报（王五）实际 10%，按计划应达 79%" in slipping
    assert "#3" not in slipping
    assert "三、阻塞（1）\n  #3 联调接口（王五）已阻塞5个工作日：等第三方接口" in text  # was 7天 (calendar days)
    assert "四、高风险（1）\n  R1（高）供应商延期" in text and "小风险" not in text.split("五、")[0]
    assert "五、逾期行动项（1）\n  A1 确认预算（李四）截止11-25(周三) ⚠逾期2天" in text
    decisions = text.split("六、待决策")[1].split("七、")[0]
    assert "R1 风险应对方式未定" in decisions and "#3 联调接口 阻塞超过 2 个工作日" in decisions
    assert "七、下周到期（1）\n  #4 设计海报（王五）截止11-30(周一)" in text


def test_minutes_list_what_was_recorded_during_the_meeting(runtime: Runtime, project: int) -> None:
    factory = runtime.session_factory
    add_decision(factory, project=project, content="会前的决议", by="王经理", at=sh("2026-11-30 08:00"))
    add_decision(factory, project=project, content="发布会延期一周", by="王经理", at=sh("2026-11-30 09:20"))
    add_action(factory, project=project, content="通知嘉宾", owner="李四", due=date(2026, 12, 2), at=sh("2026-11-30 10:10"))
    add_decision(factory, project=project, content="会后的决议", by="王经理", at=sh("2026-11-30 11:30"))
    session, p = _load(runtime, project)
    with session:
        reply = build_minutes(session, p, sh("2026-11-30 11:00"), meeting_day=date(2026, 11, 30))
    assert reply is not None
    text = reply.plain_text()
    assert "D2 发布会延期一周（王经理）" in text
    assert "A1 通知嘉宾 · @李四 · 截止12-02(周三)" in text
    assert "会前" not in text and "会后" not in text
    assert [m.name for m in reply.mentions] == ["李四"]


def test_weekly_tracking_table(chat: ConsoleChat, runtime: Runtime, project: int) -> None:
    chat.say("#2 完成", name="李四", at=sh("2026-11-24 10:00"))
    session, p = _load(runtime, project)
    with session:
        reply = build_weekly_digest(session, p, sh("2026-11-27 18:00"))
    assert reply is not None
    text = reply.plain_text()
    assert "进度跟踪表" in text and "| 任务 | 负责人 | 计划 | 实际 | 状态 |" in text
    assert "本周完成 1 项 · 未完成 3 项 · 正常 1 · 延迟 2 · 风险 1" in text
    lines = text.splitlines()
    row = {line.split("|")[1].strip().split()[0]: line for line in lines if line.startswith("| #")}
    assert row["#1"].endswith("| 延迟 |") and "待开始 0%" in row["#1"]
    assert row["#3"].endswith("| 延迟 |")  # blocked, and past its due date: late already
    assert row["#4"].endswith("| 风险 |") and "应达79%" in row["#4"] and "进行中 10%" in row["#4"]
    assert row["#2"].endswith("| 正常 |") and "已完成 11-24(周二)" in row["#2"]
    assert "#5" not in row  # completed last week
    order = [line.split("|")[-2].strip() for line in lines if line.startswith("| #")]
    assert order == sorted(order, key=["延迟", "风险", "正常"].index)


def test_reminders_and_escalations(runtime: Runtime, project: int) -> None:
    add_risk(runtime.session_factory, project=project, description="供应商延期", at=sh("2026-11-20 16:00"))
    session, p = _load(runtime, project)
    with session:
        morning = find_reminders(session, p, sh("2026-11-23 10:00"))
        jobs = {(i.job, incident_line(i).split()[0]) for i in morning}
        assert (REMIND_OVERDUE, "#1") in jobs and (REMIND_DUE, "#2") in jobs
        # Blocked Friday 15:00: Monday 10:00 is only 19 working hours later (the weekend does not count).
        assert not any(i.job == ESCALATE_BLOCKED for i in morning)
        afternoon = find_reminders(session, p, sh("2026-11-23 15:30"))
        blocked = [i for i in afternoon if i.job == ESCALATE_BLOCKED]
        assert len(blocked) == 1 and "#3 联调接口（王五）已阻塞1个工作日：等第三方接口" in incident_line(blocked[0])
        assert not any(i.job == ESCALATE_RISK for i in afternoon)
        later = find_reminders(session, p, sh("2026-11-23 16:30"))
        assert any(i.job == ESCALATE_RISK and "R1" in incident_line(i) for i in later)
        # The overdue key is per day, the due-soon and escalation keys per incident.
        next_day = {(i.job, i.key) for i in find_reminders(session, p, sh("2026-11-24 10:00"))}
        assert (REMIND_OVERDUE, f"{_task_id(session, project, 1)}:2026-11-24") in next_day
        members = Snapshot(session, [p.id], at=sh("2026-11-23 16:30")).members(p.id)
        replies = text_reminders.reminders(later, date(2026, 11, 23), managers=managers(members), project_name="发布会")
    assert len(replies) == 2
    owners, escalation = replies
    assert owners.title == "任务提醒 · 发布会 · 11-23(周一)"
    assert "@李四 #1 写发布稿" in owners.plain_text() and {m.name for m in owners.mentions} == {"李四"}
    assert escalation.plain_text().startswith("【⚠ 升级提醒 · 发布会】\n@王经理")
    assert [m.name for m in escalation.mentions] == ["王经理"]


def _task_id(session, project: int, number: int) -> int:  # type: ignore[no-untyped-def]
    from models import Task

    found = session.scalar(select(Task.id).where(Task.project_id == project, Task.number == number))
    assert found is not None
    return found


def test_a_shared_snapshot_builds_many_projects_with_the_same_statements(chat: ConsoleChat, runtime: Runtime) -> None:
    from sqlalchemy import event

    for n in range(3):
        other = ConsoleChat(runtime, chat.clock, chat_id=f"g{n}")
        other.say(f"/项目 创建 项目{n}", at=sh("2026-11-16 10:00"))
        for k in range(n + 1):
            other.say(f"/任务 新增 任务{k} @成员{k} 截止:2026-11-30", at=sh("2026-11-16 10:01"))
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    with runtime.session_factory() as session:
        projects = session.scalars(select(Project).order_by(Project.id)).all()
        data = Snapshot(session, [p.id for p in projects], at=sh("2026-11-23 17:00"))
        event.listen(runtime.engine, "before_cursor_execute", count)
        try:
            replies = [build_daily_prompt(session, p, sh("2026-11-23 17:00"), data=data) for p in projects]
        finally:
            event.remove(runtime.engine, "before_cursor_execute", count)
    assert all(r is not None for r in replies)
    # members, open tasks, leaves (who is away) and reminders folded over the daily cap, for all three projects
    assert len(statements) == 4


def test_a_recorded_change_to_a_high_risk_restarts_its_24_hours(runtime: Runtime, project: int) -> None:
    from models import Risk, record_change

    risk_id = add_risk(runtime.session_factory, project=project, description="供应商延期", at=sh("2026-11-20 16:00"))
    with runtime.session_factory.begin() as session:
        risk = session.get(Risk, risk_id)
        assert risk is not None
        record_change(session, project_id=project, entity="risk", entity_id=risk_id, actor=None,
                      at=sh("2026-11-23 09:00"), field="mitigation", old=None, new="找备选供应商")
    session, p = _load(runtime, project)
    with session:
        assert not any(i.job == ESCALATE_RISK for i in find_reminders(session, p, sh("2026-11-23 16:30")))
        assert any(i.job == ESCALATE_RISK for i in find_reminders(session, p, sh("2026-11-24 09:30")))


def test_risk_changes_in_the_digest(runtime: Runtime, project: int) -> None:
    from models import Risk, RiskStatus, record_change

    factory = runtime.session_factory
    risk_id = add_risk(factory, project=project, description="场地可能被取消", at=sh("2026-11-20 10:00"),
                       level=RiskLevel.MEDIUM)
    with factory.begin() as session:
        risk = session.get(Risk, risk_id)
        assert risk is not None
        risk.level, risk.updated_at = RiskLevel.HIGH, sh("2026-11-23 10:00")
        record_change(session, project_id=project, entity="risk", entity_id=risk_id, actor=None,
                      at=sh("2026-11-23 10:00"), field="level", old="medium", new="high", note="供应商回复了")
        record_change(session, project_id=project, entity="risk", entity_id=risk_id, actor=None,
                      at=sh("2026-11-23 11:00"), field="note", note="已联系备选场地")
        risk.status, risk.closed_at = RiskStatus.CLOSED, sh("2026-11-23 15:00")
        record_change(session, project_id=project, entity="risk", entity_id=risk_id, actor=None,
                      at=sh("2026-11-23 15:00"), field="status", old="open", new="closed")
    session, p = _load(runtime, project)
    with session:
        reply = build_digest(session, p, sh("2026-11-23 18:00"))
    assert reply is not None
    changes = reply.plain_text().split("风险变化（3）\n")[1]
    assert "R1 场地可能被取消 等级：中 → 高（供应商回复了）" in changes
    assert "R1 场地可能被取消 备注：已联系备选场地" in changes
    assert "R1 场地可能被取消 状态：打开 → 已关闭" in changes
