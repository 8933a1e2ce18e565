"""Issue 10, driven like a PM would over five weeks of a console project (September–October 2026, with
中秋 and 国庆): agendas list each completion once (a meeting skipped for the holiday rolls its list into
the next), 进度滞后 only for tasks really behind, action items reminded on the right days once, deadline
moves in the next digest, digests for PMs only, escalations counted in working days."""

from __future__ import annotations

import pytest

from bot.runtime import Runtime
from scheduler.jobs import JobRunner
from tests.chat import ConsoleChat
from tests.scheduling import Posted, posts, sh


@pytest.fixture
def runner(runtime: Runtime) -> JobRunner:
    return runtime.job_runner()


def build_project(chat: ConsoleChat) -> None:
    """发布会 from Mon 09-14: 李四 #1 #2 #10, 王五 #3 #4 #7 #11, 赵六 #5 #6 #8 #9."""
    say = chat.say
    at = sh("2026-09-14 10:00")
    say("/项目 创建 发布会", at=at)
    tasks = [
        "写发布稿 @李四 截止:2026-09-18",  # 1
        "订场地 @李四 截止:2026-09-25",  # 2
        "联调接口 @王五 截止:2026-09-30",  # 3
        "采购物料 @王五 截止:2026-09-30",  # 4
        "整理名单 @赵六 截止:2026-10-16",  # 5
        "布置会场 @赵六 开始:2026-09-14 截止:2026-10-20",  # 6: waits for #7
        "确认嘉宾 @王五 截止:2026-10-19",  # 7
        "彩排 @赵六 开始:2026-10-19 截止:2026-10-23",  # 8: starts later
        "写复盘 @赵六",  # 9: no dates
        "做官网 @李四 开始:2026-09-14 截止:2026-10-30",  # 10: really behind
        "对接媒体 @王五 截止:2026-10-30",  # 11: blocked before 中秋
    ]
    for task in tasks:
        say(f"/任务 新增 {task}", at=at)
    say("/任务 依赖 #6 #7", at=at)


def agenda_posts(runtime: Runtime) -> list[Posted]:
    return posts(runtime.session_factory, "weekly-agenda")


def section(text: str, title: str) -> str:
    """The lines of one agenda or digest section (up to the next heading)."""
    if f"{title}：无" in text:
        return ""
    after = text.split(title, 1)[1]
    lines = after.splitlines()[1:]
    body = []
    for line in lines:
        if not line.startswith("  "):
            break
        body.append(line)
    return "\n".join(body)


def run_days(runner: JobRunner, kinds: list[str], moments: list[str]) -> None:
    for moment in moments:
        runner.run(kinds, sh(moment))


def test_agendas_list_each_completion_once_and_a_holiday_meeting_rolls_into_the_next(
    chat: ConsoleChat, runtime: Runtime, runner: JobRunner
) -> None:
    build_project(chat)
    say = chat.say
    say("#1 完成", name="李四", at=sh("2026-09-18 11:00"))
    runner.run(["weekly-agenda"], sh("2026-09-20 17:00"))  # a make-up Sunday: the agenda of Mon 09-21
    say("#2 完成", name="李四", at=sh("2026-09-21 10:00"))
    say("#11 阻塞 等媒体排期", name="王五", at=sh("2026-09-24 15:00"))
    runner.run(["weekly-agenda"], sh("2026-09-24 17:00"))  # Thu before 中秋: the agenda of Mon 09-28
    say("#3 完成", name="王五", at=sh("2026-09-29 10:00"))
    say("#4 完成", name="王五", at=sh("2026-09-30 16:00"))
    # Mon 10-05 is in 国庆: no agenda on 09-30 (its workday before) and none for it at all.
    runner.run(["weekly-agenda"], sh("2026-09-30 17:00"))
    say("/议程 新增 预算追加审批", name="李四", at=sh("2026-10-09 11:00"))
    runner.run(["weekly-agenda"], sh("2026-10-10 17:00"))  # make-up Saturday: the agenda of Mon 10-12
    meeting_morning = say("/议程", name="王五", at=sh("2026-10-12 08:30"))
    say("#5 完成", name="赵六", at=sh("2026-10-12 10:00"))
    say("/议程 新增 媒体名单", name="赵六", at=sh("2026-10-13 10:00"))
    runner.run(["weekly-agenda"], sh("2026-10-16 17:00"))

    agendas = agenda_posts(runtime)
    assert [a.origin.rsplit(":", 1)[1] for a in agendas] == ["2026-09-21", "2026-09-28", "2026-10-12", "2026-10-19"]
    done = [section(a.text, "一、上周完成") for a in agendas]
    expected = [(1, "写发布稿", 0), (2, "订场地", 1), (3, "联调接口", 2), (4, "采购物料", 2), (5, "整理名单", 3)]
    for number, title, where in expected:
        listed = [i for i, body in enumerate(done) if f"#{number} {title}" in body]
        assert listed == [where], (number, done)
    # Blocked with its reason and its age in working days (the 中秋 days not counted).
    assert "#11 对接媒体（王五）已阻塞6个工作日：等媒体排期" in section(agendas[2].text, "三、阻塞")
    # Topics: listed until the meeting whose agenda showed them is held.
    assert "预算追加审批（李四）" in section(agendas[2].text, "八、会议议题")
    assert "预算追加审批" not in agendas[3].text and "媒体名单（赵六）" in section(agendas[3].text, "八、会议议题")
    # On meeting morning /议程 is that meeting's agenda as it stands, not next week's with last week's list.
    assert "周会时间：10-12(周一) 09:00" in meeting_morning
    assert "#3 联调接口" in section(meeting_morning, "一、上周完成") and "#1 " not in section(meeting_morning, "一、上周完成")
    assert "预算追加审批" in meeting_morning
    # After the meeting it is the next one's: what happened since the 10-10 agenda.
    later = say("/议程", name="王五", at=sh("2026-10-12 11:00"))
    assert "周会时间：10-19(周一) 09:00" in later and section(later, "一、上周完成").strip().startswith("#5 整理名单")


def test_behind_plan_means_behind_plan(chat: ConsoleChat, runtime: Runtime, runner: JobRunner) -> None:
    build_project(chat)
    chat.say("#10 进度 10%", name="李四", at=sh("2026-10-12 10:00"))
    chat.say("#6 进度 0%", name="赵六", at=sh("2026-10-12 10:00"))
    runner.run(["weekly-agenda"], sh("2026-10-16 17:00"))
    [agenda] = agenda_posts(runtime)
    slipping = section(agenda.text, "二、进度滞后")
    assert "#10 做官网" in slipping  # started 09-14, 10% of a plan that expects about 70%
    for waiting in ("#6 ", "#8 ", "#9 "):  # waits for #7; starts 10-19; no dates
        assert waiting not in slipping, waiting
    weekly = chat.say("/周报", at=sh("2026-10-16 18:00"))
    rows = {line.split("|")[1].strip().split()[0]: line for line in weekly.splitlines() if line.startswith("| #")}
    assert rows["#10"].rstrip(" |").endswith("风险")
    assert rows["#6"].rstrip(" |").endswith("正常") and "未开始" in rows["#6"]
    assert rows["#8"].rstrip(" |").endswith("正常") and rows["#9"].rstrip(" |").endswith("未排期")
    assert "未排期 1" in weekly and "状态说明" in weekly and "前置任务" in weekly
    # Once #7 is done, #6 is measured from that day, not from its start date weeks ago.
    chat.say("#7 完成", name="王五", at=sh("2026-10-19 10:00"))
    table = chat.say("/周报", at=sh("2026-10-20 10:00"))
    six = next(line for line in table.splitlines() if line.startswith("| #6 "))
    assert "未开始" not in six and "应达100%" in six  # due 10-20: the plan is complete today


def test_action_items_and_tasks_are_reminded_on_the_right_days_once(
    chat: ConsoleChat, runtime: Runtime, runner: JobRunner
) -> None:
    build_project(chat)
    chat.say("/行动 新增 联系外包设计 @王五 截止:2026-10-14", at=sh("2026-10-12 09:30"))
    moments = [f"2026-10-{d} {t}" for d in (12, 13, 14, 15, 16) for t in ("09:00", "10:30", "14:00", "17:30")]
    run_days(runner, ["reminders"], moments)
    lines = [line for p in posts(runtime.session_factory, "reminders") for line in p.text.splitlines()]
    a1 = [line for line in lines if "A1 联系外包设计" in line]
    assert len(a1) == 4, a1  # due soon (10-13), due today (10-14), overdue 10-15 and 10-16, once each
    texts = [p.text for p in posts(runtime.session_factory, "reminders") if "A1 联系外包设计" in p.text]
    assert "即将到期：\n  @王五 A1" in texts[0] and "今天到期：\n  @王五 A1" in texts[1]
    assert "已逾期" in texts[2] and "逾期1天" in texts[2] and "逾期2天" in texts[3]
    # #5 (due Fri 10-16): due soon on Thursday, due today on Friday — once each.
    five = [line for line in lines if "#5 整理名单" in line]
    assert len(five) == 2, five
    # The digest's 明天到期 names the action item too.
    digest = chat.say("/汇总", at=sh("2026-10-13 18:00"))
    assert "A1 联系外包设计（王五）" in section(digest, "明天到期")


def test_deadline_moves_reach_the_next_digest_and_the_approval_rule(
    chat: ConsoleChat, runtime: Runtime, runner: JobRunner
) -> None:
    build_project(chat)
    say = chat.say
    say("/行动 新增 联系外包设计 @王五 截止:2026-10-16", at=sh("2026-10-12 09:30"))
    say("/行动 修改 A1 截止:2026-10-23 等报价", name="王五", at=sh("2026-10-13 10:00"))
    say("/任务 修改 #10 截止:2026-11-20 说明:设计稿延期", name="李四", at=sh("2026-10-13 11:00"))
    say("/任务 修改 #8 截止:2026-10-22", at=sh("2026-10-13 11:05"))
    warned = say("/任务 修改 #7 截止:2026-10-22", name="王五", at=sh("2026-10-13 11:10"))
    assert "#6 布置会场 依赖 #7" in warned  # #6 was planned to start 09-14, before #7's new due date
    run_days(runner, ["digest"], ["2026-10-13 18:00", "2026-10-14 18:00"])
    first, second = posts(runtime.session_factory, "digest")
    moves = section(first.text, "截止日期变更")
    assert "延期 #10 做官网：10-30(周五) → 11-20(周五)（李四；设计稿延期）" in moves
    assert "提前 #8 彩排：10-23(周五) → 10-22(周四)（王经理）" in moves
    assert "延期 #7 确认嘉宾" in moves
    assert "延期 A1 联系外包设计：10-16(周五) → 10-23(周五)（王五；等报价）" in moves
    assert "截止日期变更：无" in second.text  # each move once, in the next digest only
    assert first.to_user_id == "王经理"

    # With the rule on, an owner's move of their own deadline later waits for the PM.
    assert "已开启延期审批" in say("/项目 设置 延期审批 开", at=sh("2026-10-15 09:00"))
    asked = say("/任务 修改 #11 截止:2026-11-30 说明:媒体档期", name="王五", at=sh("2026-10-15 10:00"))
    assert "等 PM 批准后生效" in asked and "/任务 批准 #11" in asked and "@王经理" in asked
    assert "截止：10-30" in say("/任务 #11", at=sh("2026-10-15 10:01"))
    earlier = say("/任务 修改 #7 截止:2026-10-21", name="王五", at=sh("2026-10-15 10:02"))  # earlier: direct
    assert "已修改 #7" in earlier and "10-22(周四) → 10-21(周三)" in earlier
    refused = say("/任务 批准 #11", name="李四", at=sh("2026-10-15 10:05"))
    assert "PM" in refused and "截止：10-30" in say("/任务 #11", at=sh("2026-10-15 10:06"))
    approved = say("/任务 批准 #11", at=sh("2026-10-15 11:00"))
    assert "已批准 #11" in approved and "10-30(周五) → 11-30(周一)" in approved
    assert "截止：11-30" in say("/任务 #11", at=sh("2026-10-15 11:01"))
    assert "没有待批准" in say("/任务 批准 #11", at=sh("2026-10-15 11:02"))
    runner.run(["digest"], sh("2026-10-15 18:00"))
    moves = section(posts(runtime.session_factory, "digest")[-1].text, "截止日期变更")
    assert "延期 #11 对接媒体：10-30(周五) → 11-30(周一)（王五；王经理 批准；媒体档期）" in moves
    # A rejected request changes nothing and is not a move.
    say("/任务 修改 #10 截止:2026-12-20", name="李四", at=sh("2026-10-16 10:00"))
    waiting = section(say("/汇总", at=sh("2026-10-16 10:10")), "待批延期")
    assert "延期 #10 做官网：11-20(周五) → 12-20(周日)（李四） · /任务 批准 #10" in waiting
    rejected = say("/任务 驳回 #10 来不及", at=sh("2026-10-16 10:30"))
    assert "已驳回" in rejected and "11-20" in rejected
    assert "截止：11-20" in say("/任务 #10", at=sh("2026-10-16 10:31"))
    runner.run(["digest"], sh("2026-10-16 18:00"))
    assert "#10" not in section(posts(runtime.session_factory, "digest")[-1].text, "截止日期变更")


def test_the_digest_counts_what_people_did_and_is_for_pms_only(
    chat: ConsoleChat, runtime: Runtime, runner: JobRunner
) -> None:
    build_project(chat)
    say = chat.say
    say("/风险 新增 场地可能被占 等级:中 @赵六", name="赵六", at=sh("2026-10-12 09:00"))
    say("/行动 新增 联系外包设计 @王五 截止:2026-10-20", at=sh("2026-10-12 09:30"))
    say("大家好", name="钱七", at=sh("2026-10-12 09:40"))  # a member with nothing open
    say("/风险 更新 R1 措施:备选场地", name="赵六", at=sh("2026-10-13 10:00"))  # 赵六: a risk update only
    say("/行动 完成 A1", name="王五", at=sh("2026-10-13 10:30"))  # 王五: an action item only
    say("#5 完成", at=sh("2026-10-13 11:00"))  # the PM closes 赵六's task: named below, not 赵六's update
    member_view = say("/汇总", name="李四", at=sh("2026-10-13 17:00"))
    assert "未更新" not in member_view and "只发给 PM" in member_view
    runner.run(["digest"], sh("2026-10-13 18:00"))
    [digest] = posts(runtime.session_factory, "digest")
    assert digest.to_user_id == "王经理"
    updated = digest.text.split("已更新", 1)[1].splitlines()[0]
    missing = digest.text.split("未更新", 1)[1].splitlines()[0]
    assert updated == "（2）：王五、赵六"  # a risk update and a completed action item count; the PM is not listed
    assert missing == "（1）：李四"  # not the PM (no tasks), not 钱七 (nothing open)
    assert "今日完成（2）\n  #5 整理名单\n  A1 联系外包设计" in digest.text  # action items are named too


def test_escalation_counts_working_days_over_mid_autumn(
    chat: ConsoleChat, runtime: Runtime, runner: JobRunner
) -> None:
    build_project(chat)
    chat.say("#11 阻塞 等媒体排期", name="王五", at=sh("2026-09-24 15:00"))  # Thursday before 中秋
    run_days(runner, ["reminders"], ["2026-09-24 17:30", "2026-09-28 09:00", "2026-09-28 14:30"])
    assert not [p for p in posts(runtime.session_factory, "reminders") if "升级提醒" in p.text]
    run_days(runner, ["reminders"], ["2026-09-28 15:30", "2026-09-28 16:00", "2026-09-29 10:00"])
    [escalation] = [p for p in posts(runtime.session_factory, "reminders") if "升级提醒" in p.text]
    assert "超过 1 个工作日" in escalation.text and "#11 对接媒体（王五）已阻塞1个工作日：等媒体排期" in escalation.text
    assert "天" not in escalation.text.split("已阻塞", 1)[1].split("：")[0]



def test_into_2027_agendas_reminders_and_escalations_follow_the_estimated_calendar(
    chat: ConsoleChat, runtime: Runtime, runner: JobRunner
) -> None:
    say = chat.say
    say("/项目 创建 年会", at=sh("2026-12-21 10:00"))
    say("/任务 新增 订酒店 @李四 截止:2027-01-08", at=sh("2026-12-21 10:00"))
    say("/任务 新增 写节目单 @王五 截止:2027-01-15", at=sh("2026-12-21 10:00"))
    say("/任务 新增 做海报 @李四 截止:2026-12-31", at=sh("2026-12-21 10:00"))
    say("#3 完成", name="李四", at=sh("2026-12-30 10:00"))
    runner.run(["weekly-agenda"], sh("2026-12-31 17:00"))  # Thu: the agenda of Mon 2027-01-04
    say("#1 阻塞 等报价", name="李四", at=sh("2026-12-31 15:00"))
    say("/行动 新增 确认预算 @王五 截止:2027-01-05", at=sh("2026-12-31 16:00"))
    say("#2 完成", name="王五", at=sh("2026-12-31 18:00"))  # after that agenda was built: the next one's
    run_days(runner, ["reminders"], ["2026-12-31 17:30", "2027-01-04 09:00", "2027-01-04 14:30"])
    assert not [p for p in posts(runtime.session_factory, "reminders") if "升级提醒" in p.text]  # 元旦 not counted
    run_days(runner, ["reminders"], ["2027-01-04 15:30", "2027-01-05 09:00", "2027-01-06 09:00"])
    texts = [p.text for p in posts(runtime.session_factory, "reminders")]
    [escalation] = [t for t in texts if "升级提醒" in t]
    assert "#1 订酒店（李四）已阻塞1个工作日：等报价" in escalation
    budget = [t for t in texts if "A1 确认预算" in t]
    assert len(budget) == 3  # due by the next workday on 01-04, due today on 01-05, overdue on 01-06
    assert "即将到期：\n  @王五 A1" in budget[0] and "今天到期：\n  @王五 A1" in budget[1] and "已逾期" in budget[2]
    runner.run(["weekly-agenda"], sh("2027-01-08 17:00"))
    first, second = (section(a.text, "一、上周完成") for a in agenda_posts(runtime))
    assert "#3 做海报" in first and "#2 " not in first
    assert "#2 写节目单" in second and "#3 " not in second
