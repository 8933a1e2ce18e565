"""The in-process hand-over of outcomes to callbacks waiting for their answer
(bot.callback_answers.ProcessedEvents): the worker thread's notice wakes exactly the waiter of that
event with its outcome, an outcome that comes before its waiter is kept for it, and only so many are
kept for waiters that never come."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot import callback_answers
from bot.callback_answers import ProcessedEvents
from bot.dispatcher import Outcome
from bot.messages import Reply


async def test_a_notice_from_the_worker_thread_wakes_only_that_events_waiter_with_its_outcome() -> None:
    events = ProcessedEvents()
    events.bind(asyncio.get_running_loop())
    outcome = Outcome(Reply("#1 已完成"))
    with events.waiting("feishu", "ev-1") as mine, events.waiting("feishu", "ev-2") as other:
        worker = threading.Thread(target=events.notify, args=("feishu", "ev-1", outcome))
        worker.start()
        async with asyncio.timeout(1.0):
            await mine.wait()
        worker.join()
        await asyncio.sleep(0.05)  # anything scheduled for the other waiter would have run by now
        assert not other.is_set()
        assert events.take("feishu", "ev-2") is None
        assert events.take("feishu", "ev-1") is outcome
        assert events.take("feishu", "ev-1") is None  # handed over once


async def test_an_outcome_that_comes_before_its_waiter_is_kept_for_it() -> None:
    events = ProcessedEvents()
    events.bind(asyncio.get_running_loop())
    outcome = Outcome(Reply("#2 已开始"), Reply("卡片"), 7)
    threading.Thread(target=events.notify, args=("feishu", "ev-early", outcome)).start()
    await asyncio.sleep(0.05)
    with events.waiting("feishu", "ev-early"):
        assert events.take("feishu", "ev-early") is outcome


async def test_outcomes_nobody_takes_are_forgotten_past_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(callback_answers, "KEEP_OUTCOMES", 3)
    events = ProcessedEvents()
    events.bind(asyncio.get_running_loop())
    for n in range(5):
        events.notify("feishu", f"ev-{n}", Outcome(Reply(str(n))))
    await asyncio.sleep(0.05)
    assert [events.take("feishu", f"ev-{n}") is not None for n in range(5)] == [False, False, True, True, True]


async def test_without_a_bound_loop_a_notice_is_dropped() -> None:
    events = ProcessedEvents()
    with events.waiting("dingtalk", "ev-3") as waiter:
        events.notify("dingtalk", "ev-3", Outcome(None))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await waiter.wait()
        assert events.take("dingtalk", "ev-3") is None
