"""A corpus of free-text updates as people type them in work groups, each with what must come of it.

Every message goes through the whole console pipeline (`tests.chat`) in a group of its own, with five
tasks owned by 李四 (#1 写接口, #2 联调, #3 写文案, #4 订场地, #5 设计海报), all 待开始 unless the case
says `blocked:` first. Expected outcomes per task: `done`, `start` (进行中), `p60` (进行中 60 %), `block:原因`,
`same` (status, progress and reason unchanged) or `ask` (unchanged, and the reply asks to confirm).
Tasks a case does not name must stay unchanged too. Zero wrong state changes is the bar.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.runtime import Runtime
from models import Project, Task, TaskStatus
from tests.chat import ConsoleChat, FixedClock

TITLES = ("写接口", "联调", "写文案", "订场地", "设计海报")

CORPUS: list[tuple[str, str]] = [
    # --- completions that happened
    ("#3 做完了", "3=done"),
    ("#3 搞定", "3=done"),
    ("#3 搞定了", "3=done"),
    ("3号任务完成", "3=done"),
    ("#3 完成✅", "3=done"),
    ("#3 完成", "3=done"),
    ("#3 已完成", "3=done"),
    ("#3 已经完成了", "3=done"),
    ("#3 完成啦", "3=done"),
    ("#3 终于做完了！", "3=done"),
    ("#3 弄好了", "3=done"),
    ("#3 好了", "3=done"),
    ("＃３ 完成", "3=done"),
    ("#3完成了", "3=done"),
    ("任务3完成", "3=done"),
    ("任务 3 完成了", "3=done"),
    ("第3项完成", "3=done"),
    ("第三项已完成", "3=done"),
    ("三号任务搞定了", "3=done"),
    ("#3 文案写完了", "3=done"),
    ("#3 写完了", "3=done"),
    ("#3 done", "3=done"),
    ("#3 Done!", "3=done"),
    ("#3 finished", "3=done"),
    ("#3 is done", "3=done"),
    ("#3 completed", "3=done"),
    ("#3 100%", "3=done"),
    ("#3 进度100%", "3=done"),
    ("#3 今天完成了", "3=done"),
    ("#3 刚刚搞定", "3=done"),
    ("我这边 #3 做完了", "3=done"),
    ("#3 已经顺利完成，辛苦大家", "3=done"),
    ("#3 完成了，明天给大家演示", "3=done"),
    ("#4 场地订好了", "4=done"),
    ("#3 task done", "3=done"),
    # --- started / in progress
    ("#3 开始", "3=start"),
    ("#3 开始了", "3=start"),
    ("#3 已开始", "3=start"),
    ("#3 开始做了", "3=start"),
    ("5号任务开始了", "5=start"),
    ("#3 在做", "3=start"),
    ("#3 正在做", "3=start"),
    ("#3 还在做", "3=start"),
    ("#3 进行中", "3=start"),
    ("#3 started", "3=start"),
    ("#3 in progress", "3=start"),
    ("#3 working on it", "3=start"),
    ("#3 WIP", "3=start"),
    ("#3 已经着手了", "3=start"),
    ("#3 启动了", "3=start"),
    # --- progress with a measure
    ("#3 完成了一半", "3=p50"),
    ("#3 一半了", "3=p50"),
    ("#3 完成一半了", "3=p50"),
    ("#3 做了一半", "3=p50"),
    ("#3 进度一半", "3=p50"),
    ("#3 八成", "3=p80"),
    ("#3 七成了", "3=p70"),
    ("#3 完成了七成", "3=p70"),
    ("#3 百分之七十", "3=p70"),
    ("#3 三分之一", "3=p33"),
    ("#3 完成了三分之二", "3=p67"),
    ("#3 80%", "3=p80"),
    ("#3 进度80%", "3=p80"),
    ("#3 进度 60", "3=p60"),
    ("#3 进度：60%", "3=p60"),
    ("#3 进度到60%了", "3=p60"),
    ("#3 完成60%", "3=p60"),
    ("#3 完成度 40%", "3=p40"),
    ("#3 还差20%", "3=p80"),
    ("#3 进度80% 明天联调", "3=p80"),
    ("#3 30%，今天先把框架搭好", "3=p30"),
    ("#3 progress 40%", "3=p40"),
    ("#3 halfway", "3=p50"),
    ("#3 0%", "3=p0"),
    # --- blocked, with the reason as typed
    ("#3 卡在法务审批", "3=block:法务审批"),
    ("#3 卡住了，等接口", "3=block:等接口"),
    ("#3 卡住了 等设计稿", "3=block:等设计稿"),
    ("#3 阻塞 等第三方接口", "3=block:等第三方接口"),
    ("#3 阻塞，供应商没回复", "3=block:供应商没回复"),
    ("#3 因为法务审批卡住了", "3=block:因为法务审批"),
    ("#3 被卡住了，缺少素材", "3=block:缺少素材"),
    ("#3 blocked waiting for API", "3=block:waiting for API"),
    ("#3 stuck on legal review", "3=block:legal review"),
    ("#3 受阻：预算没批", "3=block:预算没批"),
    # --- unblocked
    ("blocked:#3 不卡了，继续做", "3=start"),
    ("blocked:#3 阻塞解除了", "3=start"),
    ("blocked:#3 继续做了", "3=start"),
    ("blocked:#3 开始了", "3=start"),
    ("blocked:#3 不卡了", "3=start"),
    ("blocked:#3 50%", "3=blockp50"),
    # --- future, intention, estimate: no change
    ("#3 今天下班前能完成", "3=same"),
    ("#3 快完成了", "3=same"),
    ("#3 马上完成", "3=same"),
    ("#3 马上就好", "3=same"),
    ("#3 明天完成", "3=same"),
    ("#3 明天开始", "3=same"),
    ("#3 下周开始", "3=same"),
    ("#3 打算明天开始", "3=same"),
    ("#3 准备开始做", "3=same"),
    ("#3 争取周五完成", "3=same"),
    ("#3 预计下周完成", "3=same"),
    ("#3 估计还要两天", "3=same"),
    ("#3 周五前完成", "3=same"),
    ("#3 下午开始弄", "3=same"),
    ("#3 完成前要先评审", "3=same"),
    ("#3 完成后通知大家", "3=same"),
    ("#3 可以开始了", "3=same"),
    ("#3 可能会卡住", "3=same"),
    ("#3 要完成了", "3=same"),
    ("#3 将于明天上线", "3=same"),
    ("#3 will be done tomorrow", "3=same"),
    ("#3 going to start next week", "3=same"),
    ("#3 should be done by Friday", "3=same"),
    ("#3 done soon", "3=same"),
    ("#3 almost done", "3=same"),
    ("#3 nearly finished", "3=same"),
    # --- negation
    ("#3 还没完成", "3=same"),
    ("#3 没完成", "3=same"),
    ("#3 未完成", "3=same"),
    ("#3 完成不了", "3=same"),
    ("#3 做不完", "3=same"),
    ("#3 还没开始", "3=same"),
    ("#3 没开始", "3=same"),
    ("#3 不是阻塞", "3=same"),
    ("#3 没有卡住", "3=same"),
    ("#3 没卡住，正常推进", "3=same"),
    ("#3 还没好", "3=same"),
    ("#3 not done", "3=same"),
    ("#3 not done yet", "3=same"),
    ("#3 not started", "3=same"),
    ("#3 isn't blocked", "3=same"),
    # --- questions
    ("#3 完成了吗", "3=same"),
    ("#3 完成了吗？", "3=same"),
    ("#3 完成了没", "3=same"),
    ("#3 做完没有", "3=same"),
    ("#3 开始了吗", "3=same"),
    ("#3 进度多少了", "3=same"),
    ("#3 什么时候能完成", "3=same"),
    ("#3 是不是卡住了", "3=same"),
    ("#3 done?", "3=same"),
    ("#3 almost done?", "3=same"),
    ("#3 is it finished?", "3=same"),
    # --- conditions, requests, partial completion
    ("#3 如果明天没问题就完成", "3=same"),
    ("#3 要是审批通过就开始", "3=same"),
    ("如果 #3 完成了就通知我", "3=same"),
    ("#3 if approved, done", "3=same"),
    ("请 @李四 把 #3 做完", "3=same"),
    ("#3 请尽快完成", "3=same"),
    ("#3 需要今天完成", "3=same"),
    ("#3 大部分完成了", "3=same"),
    ("#3 基本完成", "3=same"),
    ("#3 差不多了", "3=same"),
    ("#3 还差一点", "3=same"),
    ("#3 完成了大半", "3=ask"),
    ("#3 初稿完成了", "3=same"),
    ("#3 部分完成", "3=same"),
    # --- not sure: asked, nothing changed
    ("#3 应该完成了", "3=ask"),
    ("#3 应该是搞定了", "3=ask"),
    ("听说 #3 做完了", "3=ask"),
    ("张三说 #3 完成了", "3=ask"),
    ("#3 完成了吧", "3=ask"),
    ("#3 提交了", "3=ask"),
    ("#3 已上线", "3=ask"),
    ("#3 在等法务审批", "3=ask"),
    ("#3 等客户确认", "3=ask"),
    ("#3 暂停了", "3=ask"),
    ("#3 接口写完了", "3=ask"),
    ("#4 场地已经订好了，合同周一签", "4=done"),
    ("#3 前端完成了，后端还没", "3=ask"),
    ("#3 设计稿写完了", "3=ask"),
    ("#3 60%左右", "3=ask"),
    ("#3 60", "3=ask"),
    # --- several updates in one message
    ("#1 完成\n#2 进度 50%", "1=done 2=p50"),
    ("#1 完成 #2 开始", "1=done 2=start"),
    ("#1 完成；#2 卡住了 等设计稿", "1=done 2=block:等设计稿"),
    ("#1、#2 都完成了", "1=done 2=done"),
    ("#1 #2 完成", "1=done 2=done"),
    ("#1和#2都搞定了", "1=done 2=done"),
    ("#3 完成 #4 下周开始", "3=done 4=same"),
    ("#3 完成\n#4 40%", "3=done 4=p40"),
    ("#1 完成了，#2 还在做", "1=done 2=start"),
    ("#1 done, #2 started", "1=done 2=start"),
    ("今天更新：\n#1 完成\n#2 60%\n#3 明天开始", "1=done 2=p60 3=same"),
    ("#1 完成 #2 完成了吗", "1=done 2=same"),
    ("#1 完成 #99 开始", "1=done"),
    ("#1 完成 #1.5 开始", "1=done"),
    ("#4 被 #2 卡住了，等接口", "4=same 2=same"),
    ("#3 依赖 #2，还没开始", "3=same 2=same"),
    ("#1 完成 #2 进度 30.5%", "1=done 2=same"),
    # --- refusals by name, malformed values: nothing changes
    ("#1.5 完成", "1=same"),
    ("#0 完成", "1=same"),
    ("#99 完成", "1=same"),
    ("#3 进度 30.5%", "3=same"),
    ("#3 150%", "3=same"),
    ("#3 -10%", "3=same"),
    ("#3 卡住了", "3=same"),
    ("#3 前端80% 后端50%", "3=same"),
    # --- no status at all
    ("#3 明天开会讨论", "3=same"),
    ("#3 谁负责的", "3=same"),
    ("#3 备注 客户要求改颜色", "3=same"),
    ("#3 备注：完成了一半，明天继续", "3=same"),
    ("#3 辛苦了", "3=same"),
    # --- more as typed in groups
    ("#3 已搞定，请查收", "3=done"),
    ("#3 搞定了，文件发群里了", "3=done"),
    ("#3 ✅", "3=done"),
    ("#3 已完成 🎉", "3=done"),
    ("#3 已完成（提前一天）", "3=done"),
    ("【#3】完成", "3=done"),
    ("#3 - 完成", "3=done"),
    ("#3：完成", "3=done"),
    ("#3 写文案 完成", "3=done"),
    ("#3 结束了", "3=done"),
    ("#3 写好了", "3=done"),
    ("#3 昨天完成了", "3=done"),
    ("#3 没什么问题，完成了", "3=done"),
    ("#3 has been completed", "3=done"),
    ("#3 finished yesterday", "3=done"),
    ("#3 刚开始", "3=start"),
    ("#3 已经在做了", "3=start"),
    ("#3 今天开始做了", "3=start"),
    ("#3 联调中", "3=start"),
    ("#3 跟进中", "3=start"),
    ("#3 开发中，预计周五完成", "3=start"),
    ("#3 完成了80%", "3=p80"),
    ("#3 做了三分之一", "3=p33"),
    ("#3 完成了90%，剩下明天弄", "3=p90"),
    ("#3 50% done", "3=p50"),
    ("#3 卡在预算审批上了", "3=block:预算审批"),
    ("#3 阻塞：供应商未回复", "3=block:供应商未回复"),
    ("#3 还是卡着，等接口", "3=block:等接口"),
    ("#3 blocked on legal", "3=block:legal"),
    ("#3 今天开始", "3=same"),
    ("#3 明天就能搞定", "3=same"),
    ("#3 这周能完成", "3=same"),
    ("#3 本周内完成", "3=same"),
    ("#3 晚点弄完", "3=same"),
    ("#3 快好了", "3=same"),
    ("#3 还要两天", "3=same"),
    ("#3 没有进展", "3=same"),
    ("#3 不做了", "3=same"),
    ("#3 先不做了", "3=same"),
    ("#3 搞不定", "3=same"),
    ("#3 没做完", "3=same"),
    ("#3 完成了一部分", "3=same"),
    ("#3 延期了", "3=same"),
    ("#3 能不能今天完成", "3=same"),
    ("#3 我觉得可以开始了", "3=same"),
    ("#3 on hold", "3=same"),
    ("#3 to complete", "3=same"),
    ("#3 will start Monday", "3=same"),
    ("#3 done except testing", "3=same"),
    ("#3 mostly done", "3=same"),
    ("@李四 #3 完成了吗", "3=same"),
    ("#3 差不多80%", "3=ask"),
    ("#3 已经发给客户了", "3=ask"),
    ("#3 估计完成了", "3=ask"),
    ("#3 老板说完成了", "3=ask"),
    ("#3 已经完成了吧", "3=ask"),
    ("#3 完成，不过还要改一下", "3=ask"),
    ("#3 等审批", "3=ask"),
    ("1. #3 完成 2. #4 开始", "3=done 4=start"),
    ("#3完成#4开始", "3=done 4=start"),
    ("#3,#4 done", "3=done 4=done"),
    ("#3、#4 完成，#5 进行中", "3=done 4=done 5=start"),
    ("#3 做完了 #4 也做完了", "3=done 4=done"),
    ("#3号任务完成", "3=done"),
    ("#3 提前完成", "3=done"),
    ("#3 100%完成", "3=done"),
    ("#3 complete", "3=done"),
    ("#3 started yesterday", "3=start"),
    ("blocked:#3 卡点已解决", "3=start"),
    ("#3 WIP 60%", "3=p60"),
    ("#3 is blocked by legal", "3=block:legal"),
    ("#3 保证按时完成", "3=same"),
    ("#3 I'll finish it today", "3=same"),
    ("#3 can't start", "3=same"),
    ("#3 张三已经完成", "3=ask"),
    ("#3 我开始做了", "3=start"),
    ("#3 干完了", "3=done"),
    ("#3 阻塞原因已经写了", "3=same"),
    ("#3 防止卡住", "3=same"),
    ("#3 避免阻塞", "3=same"),
    ("#3 抓紧开始", "3=same"),
    ("#3 let me start", "3=same"),
    ("#3 完成时间改到周五", "3=same"),
    ("#3 开始之前先开会", "3=same"),
    ("#3 做完后发我", "3=same"),
    ("#3 一完成就告诉你", "3=same"),
    ("#3 要是卡住了告诉我", "3=same"),
    ("#3 不一定能完成", "3=same"),
    ("#3 差一点完成", "3=same"),
    ("#3 眼看就要完成了", "3=same"),
    ("#3 我以为完成了", "3=ask"),
    ("#3 finish by EOD", "3=same"),
    ("#3 hopefully done today", "3=same"),
    ("#3 about to start", "3=same"),
]


def _expected(spec: str) -> dict[int, str]:
    parts = re.split(r"\s+(?=\d+=)", spec)  # a reason may have spaces: “3=block:waiting for API”
    return {int(n): outcome for n, _, outcome in (part.partition("=") for part in parts)}


def _state(chat: ConsoleChat, number: int) -> tuple[TaskStatus, int, str | None]:
    with chat.runtime.session_factory() as session:
        row = session.execute(
            select(Task.status, Task.progress, Task.blocked_reason)
            .join(Project, Project.id == Task.project_id)
            .where(Project.chat_id == chat.chat_id, Task.number == number)
        ).one()
        return row.status, row.progress, row.blocked_reason


def _want(outcome: str, before: tuple[TaskStatus, int, str | None]) -> tuple[TaskStatus, int, str | None]:
    if outcome in ("same", "ask"):
        return before
    if outcome == "done":
        return TaskStatus.DONE, 100, None
    if outcome == "start":
        return TaskStatus.IN_PROGRESS, before[1], None
    if outcome.startswith("blockp"):
        return TaskStatus.BLOCKED, int(outcome.removeprefix("blockp")), before[2]
    if outcome.startswith("block:"):
        return TaskStatus.BLOCKED, before[1], outcome.removeprefix("block:")
    assert outcome.startswith("p"), outcome
    progress = int(outcome[1:])
    return (TaskStatus.DONE if progress == 100 else TaskStatus.IN_PROGRESS), progress, None


@pytest.mark.parametrize(("message", "spec"), CORPUS, ids=[f"{i:03d}" for i in range(len(CORPUS))])
def test_corpus(runtime: Runtime, clock: FixedClock, message: str, spec: str) -> None:
    chat = ConsoleChat(runtime, clock, chat_id="corpus")
    chat.say("/项目 创建 发布会", name="王经理")
    for title in TITLES:
        chat.say(f"/任务 新增 {title} @李四 截止:周五", name="王经理")
    blocked = message.startswith("blocked:")
    if blocked:
        message = message.removeprefix("blocked:")
        assert "→ 阻塞" in chat.say("/阻塞 #3 等接口", name="李四")
    before = {n: _state(chat, n) for n in range(1, len(TITLES) + 1)}
    reply = chat.say(message, name="李四")
    assert reply.strip(), "every message gets a reply"
    expected = _expected(spec)
    for number in range(1, len(TITLES) + 1):
        outcome = expected.get(number, "same")
        assert _state(chat, number) == _want(outcome, before[number]), (message, number, outcome, reply)
    if "ask" in expected.values():
        assert "回复“是”确认" in reply, reply
    else:
        assert "回复“是”确认" not in reply, reply


def test_corpus_is_large_and_varied() -> None:
    outcomes = [o.split(":")[0] for _, spec in CORPUS for o in _expected(spec).values()]
    assert len(CORPUS) >= 150
    for kind in ("done", "start", "same", "ask", "block"):
        assert outcomes.count(kind) >= 10, kind
    assert sum(o.startswith("p") for o in outcomes) >= 10
