"""Slips warn downstream: blocked, moved later, overdue (the daily check) — told once, then told it is clear."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.messages import Reply
from bot.runtime import Runtime
from models import OutboundMessage, SlipWarning
from tests.chat import ConsoleChat, FixedClock
from tests.forecast.conftest import PM, SHANGHAI
from tests.scheduling import posts


def warnings(chat: ConsoleChat) -> list[tuple[str, bool]]:
    with chat.runtime.session_factory() as session:
        rows = session.execute(select(SlipWarning.cause, SlipWarning.cleared_at).order_by(SlipWarning.id)).all()
    return [(cause, cleared is not None) for cause, cleared in rows]


def test_a_blocked_predecessor_warns_its_dependents_exactly_once_then_clear(chain: ConsoleChat) -> None:
    reply = chain.say("/阻塞 #2 接口文档没到", name="李四").splitlines()
    assert reply[-2:] == [
        "⚠ 下游提醒：#2 接口开发（李四）阻塞了，预计 10-09(周五) 完成。受影响的后续任务：",
        "· @赵六 #3 联调测试：预计 10-14(周三) 完成（截止 10-14(周三)，目前还赶得上）",
    ]
    assert warnings(chain) == [("blocked", False)]
    again = chain.say("/阻塞 #2 还是没到", name="李四")
    assert "下游提醒" not in again
    assert "下游提醒" not in chain.say("/进度 #2 30%", name="李四")  # still blocked: no second warning
    assert "下游提醒" not in chain.say("#2 还在等文档", name="李四")
    cleared = chain.say("/开始 #2", name="李四").splitlines()
    assert cleared[-1] == "✅ 解除提醒：#2 接口开发 已解除阻塞（之前的阻塞提醒），@赵六 #3 不再受它影响。"
    assert warnings(chain) == [("blocked", True)]
    assert "下游提醒" in chain.say("/阻塞 #2 服务器宕机", name="李四")  # a new blockage: a new warning
    assert warnings(chain) == [("blocked", True), ("blocked", False)]


def test_a_late_blocker_shows_the_forecast_impact(chain: ConsoleChat, clock: FixedClock) -> None:
    chain.say("/完成 #1", name=PM)
    clock.set(datetime(2026, 10, 9, 10, 0, tzinfo=SHANGHAI))  # 接口开发 due today, half done, then blocked
    chain.say("/进度 #2 50%", name="李四")
    lines = chain.say("/阻塞 #2 测试环境挂了", name="李四").splitlines()
    # resumes on the next workday (Sat 10-10, 调休) with 3 of 5 workdays left: 10-10, 10-12, 10-13
    assert lines[-3:] == [
        "⚠ 下游提醒：#2 接口开发（李四）阻塞了，预计 10-13(周二) 完成。受影响的后续任务：",
        "· @赵六 #3 联调测试：预计 10-19(周一) 完成（截止 10-14(周三)，晚 3 个工作日）",
        "· @王经理 #4 上线评审：预计 10-20(周二) 完成（截止 10-15(周四)，晚 3 个工作日）",
    ]


def test_a_move_later_warns_only_when_it_pushes_a_dependent(chain: ConsoleChat) -> None:
    assert "下游提醒" not in chain.say("/任务 修改 #5 截止:2026-10-14", name=PM)  # nothing depends on #5
    moved = chain.say("/任务 修改 #3 截止:2026-10-16", name="赵六").splitlines()
    assert moved[-2:] == [
        "⚠ 下游提醒：#3 联调测试（赵六）截止从 10-14(周三) 推迟到 10-16(周五)，预计 10-16(周五) 完成。受影响的后续任务：",
        "· @王经理 #4 上线评审：预计 10-19(周一) 完成（截止 10-15(周四)，晚 2 个工作日）",
    ]
    assert warnings(chain) == [("moved", False)]
    assert "下游提醒" not in chain.say("/任务 修改 #3 开始:2026-10-12", name="赵六")
    back = chain.say("/任务 修改 #3 截止:2026-10-14", name="赵六").splitlines()
    assert back[-1] == "✅ 解除提醒：#3 联调测试 不再推迟（之前的推迟提醒），@王经理 #4 不再受它影响。"
    assert warnings(chain) == [("moved", True)]


def test_overdue_tasks_warn_once_from_the_daily_check(chain: ConsoleChat, clock: FixedClock, runtime: Runtime) -> None:
    runner = runtime.job_runner()
    day_after = datetime(2026, 10, 12, 17, 0, tzinfo=SHANGHAI)  # #2 was due Fri 10-09; Sat 10-10 was worked
    report = runner.run(["daily-prompt"], day_after)
    assert report.count("posted", "slip-check") == 1
    [post] = posts(runtime.session_factory, "slip-check")
    assert post.reply.text.splitlines()[:2] == [
        # not started: four workdays from today, 10-12 … 10-15; 接口开发 then five, 10-16 … 10-22
        "⚠ 下游提醒：#1 需求评审（王经理）已过截止 09-25(周五) 仍未完成，预计 10-15(周四) 完成。受影响的后续任务：",
        "· <@李四> #2 接口开发：预计 10-22(周四) 完成（截止 10-09(周五)，晚 10 个工作日）",
    ]
    assert {m.name for m in post.reply.mentions} >= {"李四", "张三"}
    assert "⚠ 下游提醒：#2 接口开发（李四）已过截止 10-09(周五) 仍未完成" in post.reply.text  # overdue as well
    assert warnings(chain) == [("overdue", False), ("overdue", False)]
    assert runner.run(["daily-prompt"], day_after).count("posted", "slip-check") == 0  # the slot is taken
    next_day = runner.run(["daily-prompt"], datetime(2026, 10, 13, 17, 0, tzinfo=SHANGHAI))
    assert next_day.count("posted", "slip-check") == 0  # still overdue, already told: nothing to say
    assert len(posts(runtime.session_factory, "slip-check")) == 1
    clock.set(datetime(2026, 10, 13, 18, 0, tzinfo=SHANGHAI))
    done = chain.say("/完成 #1", name=PM).splitlines()
    assert done[-1].startswith("✅ 解除提醒：#1 需求评审 已完成（之前的逾期提醒），")
    assert warnings(chain) == [("overdue", True), ("overdue", False)]  # #2 is still overdue


def test_the_setting_turns_the_warnings_off(chain: ConsoleChat, runtime: Runtime) -> None:
    assert chain.say("/项目 设置 下游提醒 关", name=PM).startswith("已关闭下游提醒")
    assert "下游提醒：关" in chain.say("/项目 设置")
    assert "下游提醒" not in chain.say("/阻塞 #2 接口文档没到", name="李四")
    runtime.job_runner().run(["daily-prompt"], datetime(2026, 10, 12, 17, 0, tzinfo=SHANGHAI))
    assert posts(runtime.session_factory, "slip-check") == []
    assert warnings(chain) == []
    assert "看不懂" in chain.say("/项目 设置 下游提醒 也许", name=PM)
    assert chain.say("/项目 设置 slip-alerts on", name=PM).startswith("已开启下游提醒")


def test_undoing_a_block_clears_its_warning(chain: ConsoleChat) -> None:
    assert "下游提醒" in chain.say("/阻塞 #2 接口文档没到", name="李四")
    undone = chain.say("/撤销", name="李四").splitlines()
    assert undone[-1] == "✅ 解除提醒：#2 接口开发 已解除阻塞（之前的阻塞提醒），@赵六 #3 不再受它影响。"
    assert warnings(chain) == [("blocked", True)]


def test_a_blocker_set_in_a_private_chat_warns_in_the_group_too(chain: ConsoleChat) -> None:
    """A downstream owner @-mentioned in a private chat would never see it: the group gets the reply too."""
    private = chain.private("#2 阻塞 接口文档没到", name="李四")
    assert private.startswith("【秋季发布】") and "⚠ 下游提醒：#2 接口开发（李四）阻塞了" in private
    assert warnings(chain) == [("blocked", False)]
    with chain.runtime.session_factory() as session:
        rows = session.scalars(select(OutboundMessage).where(OutboundMessage.chat_id == chain.chat_id)).all()
        told = [Reply.from_payload(r.body) for r in rows if r.origin.endswith(":group")]
    assert len(told) == 1 and told[0].text.startswith("（李四 私信更新）【秋季发布】")
    assert [m.user_id for m in told[0].mentions] == ["赵六"] and "@赵六 #3 联调测试" in told[0].plain_text()
    # A private update that pings nobody else stays private.
    chain.private("#2 进度 40%", name="李四")
    with chain.runtime.session_factory() as session:
        origins = session.scalars(select(OutboundMessage.origin).where(OutboundMessage.chat_id == chain.chat_id)).all()
    assert sum(o.endswith(":group") for o in origins) == 1
