"""The in-process hand-over of outcomes to callbacks waiting for their answer
(bot.callback_answers.ProcessedEvents): the worker thread's notice wakes exactly the waiter of that
event with its outcome, an outcome that comes before its waiter is kept for it, and only so many are
kept for waiters that never come."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from types import SimpleNamespace

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


def waiting_for(events: ProcessedEvents, look: Callable[[], Outcome | None]) -> asyncio.Task[Outcome | None]:
    parsed = SimpleNamespace(incoming=SimpleNamespace(platform="feishu", event_key="ev-run"))
    platform = SimpleNamespace(answer_within=3.0)
    return asyncio.create_task(callback_answers._outcome(platform, parsed, events, look))  # type: ignore[arg-type]


async def test_a_held_event_is_not_answered_from_the_database_before_its_card(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a run the event is done in the database before its card is written: a look would answer
    without the card, so a held event is only answered by its outcome."""
    monkeypatch.setattr(callback_answers, "POLL_FALLBACK", 0.01)
    events = ProcessedEvents()
    events.bind(asyncio.get_running_loop())
    looks: list[int] = []

    def look() -> Outcome:
        looks.append(1)
        return Outcome(Reply("#1 已完成"))  # done, no card yet

    events.notify("feishu", "ev-run", None)
    waiter = waiting_for(events, look)
    await asyncio.sleep(0.1)
    assert not waiter.done() and looks == []
    final = Outcome(Reply("#1 已完成"), Reply("卡片"), 9)
    events.notify("feishu", "ev-run", final)
    assert await waiter is final
    assert not events.held("feishu", "ev-run")


async def test_a_look_that_sees_the_event_done_while_it_is_held_is_not_the_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hold is told before the commit, so a look that already sees the event done comes back
    after the hold and is set aside."""
    monkeypatch.setattr(callback_answers, "POLL_FALLBACK", 0.01)
    events = ProcessedEvents()
    events.bind(asyncio.get_running_loop())

    def look() -> Outcome:  # the worker holds the event and commits while this read runs
        events.notify("feishu", "ev-run", None)
        return Outcome(Reply("#1 已完成"))

    waiter = waiting_for(events, look)
    await asyncio.sleep(0.1)
    assert not waiter.done()
    final = Outcome(Reply("#1 已完成"), Reply("卡片"), 9)
    events.notify("feishu", "ev-run", final)
    assert await waiter is final


async def test_an_outcome_handed_over_during_a_look_wins_over_what_the_look_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's refresh can commit and hand the outcome over while a read that saw the event done
    (without its card) is under way: the outcome is the answer, not the read."""
    monkeypatch.setattr(callback_answers, "POLL_FALLBACK", 0.01)
    events = ProcessedEvents()
    events.bind(asyncio.get_running_loop())
    final = Outcome(Reply("#1 已完成"), Reply("卡片"), 9)

    def look() -> Outcome:
        events.notify("feishu", "ev-run", None)  # held, committed,
        events.notify("feishu", "ev-run", final)  # the run's cards written
        return Outcome(Reply("#1 已完成"))  # what this read saw in between

    assert await waiting_for(events, look) is final
